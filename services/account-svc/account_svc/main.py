"""account-svc: the slices it is made of, nothing else.

Router order matters for matching: classification's `/v1/accounts/pareto` comes before the
accounts router's `/v1/accounts/{account_id}`. Health's opportunity handlers replace
classification's for the same event types (they apply the same replica first, then rescore)."""
from kam_shared.app import create_service_app

from .account_team.api import router as account_team_router
from .accounts.api import router as accounts_router
from .assignment.consumers import HANDLERS as ASSIGNMENT_HANDLERS
from .audit.api import router as audit_router
from .classification.api import router as classification_router
from .classification.consumers import HANDLERS as CLASSIFICATION_HANDLERS
from .common.runtime import AccountRuntime
from .health.api import router as health_router
from .health.consumers import HANDLERS as HEALTH_HANDLERS
from .health.service import recompute_after
from .merge.api import router as merge_router
from .models import plumbing
from .records.api import router as records_router
from .settings import Settings
from .whitespace.api import router as whitespace_router
from .whitespace.consumers import HANDLERS as WHITESPACE_HANDLERS


class AccountServiceRuntime(AccountRuntime):
    derivations = (recompute_after,)  # health: rescored in the transaction of any input's change


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM account-svc",
        description="Accounts: uniqueness and merge, hierarchy, assignment, classification, buying centre, "
                    "competitors, plans, interactions, complaints, health and churn risk, account teams, whitespace.",
        tables=plumbing, routers=[classification_router, accounts_router, merge_router, records_router,
                                  health_router, account_team_router, whitespace_router, audit_router],
        handlers={**CLASSIFICATION_HANDLERS, **ASSIGNMENT_HANDLERS, **WHITESPACE_HANDLERS, **HEALTH_HANDLERS},
        runtime_class=AccountServiceRuntime)
