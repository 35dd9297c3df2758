from kam_shared.app import create_service_app
from kam_shared.consumer import combine_handlers

from .audit.api import router as audit_router
from .categories.api import router as categories_router
from .changes.api import router as changes_router
from .health.api import router as health_router
from .health.consumers import HANDLERS as HEALTH_HANDLERS
from .history.api import router as history_router
from .periods.consumers import HANDLERS as PERIOD_HANDLERS
from .predictions.api import router as predictions_router
from .predictions.consumers import HANDLERS as PREDICTION_HANDLERS
from .rates.api import router as rates_router
from .rebuild.api import router as rebuild_router
from .rollups.api import router as rollups_router
from .rollups.consumers import HANDLERS as ROLLUP_HANDLERS
from .settings import Settings
from .submission.api import router as submission_router
from .tables import plumbing


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM forecast-svc",
        description="Live roll-ups for every level of the sales hierarchy, forecast submission, funnel health, "
                    "attainment and accuracy, and the predicted outcome with its backtest.",
        tables=plumbing,
        routers=[rollups_router, rebuild_router, categories_router, submission_router, health_router,
                 rates_router, predictions_router, changes_router, history_router, audit_router],
        handlers=combine_handlers(ROLLUP_HANDLERS, PERIOD_HANDLERS, HEALTH_HANDLERS, PREDICTION_HANDLERS))
