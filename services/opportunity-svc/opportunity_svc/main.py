from kam_shared.app import create_service_app

from . import service
from .api import router
from .models import plumbing
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM opportunity-svc",
        description="Opportunities: the 8-stage funnel, value assessment, tenders, sales teams.",
        tables=plumbing, routers=[router],
        handlers={"kam.account.created.v1": service.on_account_created,
                  "kam.account.merged.v1": service.on_account_merged},
        after_events=service.kick_relay_after_merges)
