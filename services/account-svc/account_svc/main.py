from kam_shared.app import create_service_app

from .api import router
from .models import plumbing
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM account-svc",
        description="Accounts: uniqueness and merge, hierarchy, buying centre, competitors, plans.",
        tables=plumbing, routers=[router])
