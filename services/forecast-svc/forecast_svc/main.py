from kam_shared.app import create_service_app

from .api import router
from .consumers import HANDLERS
from .health.api import router as health_router
from .health.consumers import HANDLERS as HEALTH_HANDLERS
from .models import plumbing
from .settings import Settings
from .submission.api import router as submission_router


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM forecast-svc",
        description="Live roll-ups for every level of the sales hierarchy, forecast submission, funnel health, "
                    "attainment and accuracy.",
        tables=plumbing, routers=[router, submission_router, health_router],
        handlers={**HANDLERS, **HEALTH_HANDLERS})
