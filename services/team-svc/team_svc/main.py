"""create_app: the slices of team-svc (routers in contract order, event handlers, tables), nothing else."""
from kam_shared.app import create_service_app

from .audit import api as audit_api
from .auth import api as auth_api
from .auth.startup import install_keys
from .capacity import api as capacity_api
from .common.models import metadata, plumbing
from .common.runtime import TeamRuntime, read_pool
from .incentives import api as incentives_api
from .org import api as org_api
from .quotas import api as quotas_api
from .replicas import consumers as replicas
from .settings import Settings
from .territories import api as territories_api
from .territory_plans import api as territory_plans_api
from .users import api as users_api
from .users.service import ensure_bootstrap_admin

# Importing the slices registers every table on `metadata` (migrations/env.py reads it from here).
__all__ = ["create_app", "metadata"]

# The order the routers are included in is the order of /openapi.json's paths (the contract).
SLICES = (auth_api, users_api, org_api, territories_api, capacity_api, quotas_api, incentives_api,
          territory_plans_api, audit_api)


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    app = create_service_app(
        settings, title="KAM team-svc",
        description="Sales organisation, hierarchy, territories, quotas, incentives and auth.",
        tables=plumbing, routers=[s.router for s in SLICES], handlers=replicas.handlers(),
        on_startup=[install_keys(settings), ensure_bootstrap_admin], resources=[read_pool],
        runtime_class=TeamRuntime)
    return app
