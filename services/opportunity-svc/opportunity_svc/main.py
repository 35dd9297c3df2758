"""create_app: the slices of opportunity-svc (routers in matching order, event handlers, tables), nothing else."""
from kam_shared.app import create_service_app

from .accounts import consumers as accounts
from .audit import api as audit_api
from .close_reasons import api as close_reasons_api
from .common.models import metadata, plumbing
from .history_import import api as history_import_api
from .opportunities import api as opportunities_api
from .opportunities import consumers as opportunities
from .pipeline import api as pipeline_api
from .products import api as products_api
from .settings import Settings
from .stage_model import api as stage_model_api

# Importing the slices registers every table on `metadata` (migrations/env.py reads it from here).
__all__ = ["create_app", "metadata"]

# Pipeline first: its /v1/opportunities/snapshot must match before /v1/opportunities/{opp_id}.
SLICES = (pipeline_api, opportunities_api, stage_model_api, close_reasons_api, products_api, history_import_api,
          audit_api)


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM opportunity-svc",
        description="Opportunities: the 8-stage funnel, value assessment, tenders, sales teams, the product catalogue.",
        tables=plumbing, routers=[s.router for s in SLICES],
        handlers={"kam.account.created.v1": accounts.on_account_state,
                  "kam.account.updated.v1": accounts.on_account_state,
                  "kam.account.reassigned.v1": accounts.on_account_state,
                  "kam.account.classified.v1": accounts.on_account_state,
                  "kam.account.team_changed.v1": accounts.on_account_team_changed,
                  "kam.account.merged.v1": opportunities.on_account_merged})
