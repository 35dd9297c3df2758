from kam_shared.app import create_service_app

from .api import router as accounts_router
from .api_records import router as records_router
from .consumers import HANDLERS
from .models import plumbing
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM account-svc",
        description="Accounts: uniqueness and merge, hierarchy, assignment, classification, buying centre, "
                    "competitors, plans, interactions, complaints.",
        tables=plumbing, routers=[accounts_router, records_router], handlers=HANDLERS)
