from kam_shared.app import create_service_app

from .api import router
from .consumers import HANDLERS
from .models import plumbing
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM forecast-svc",
        description="Live roll-ups for every level of the sales hierarchy, forecast submission, funnel health.",
        tables=plumbing, routers=[router], handlers=HANDLERS)
