"""account-svc: the slices it is made of, nothing else.

Router order matters for matching: classification's `/v1/accounts/pareto` comes before the
accounts router's `/v1/accounts/{account_id}`."""
from kam_shared.app import create_service_app

from .accounts.api import router as accounts_router
from .assignment.consumers import HANDLERS as ASSIGNMENT_HANDLERS
from .classification.api import router as classification_router
from .classification.consumers import HANDLERS as CLASSIFICATION_HANDLERS
from .common.runtime import AccountRuntime
from .merge.api import router as merge_router
from .models import plumbing
from .records.api import router as records_router
from .settings import Settings
from .whitespace.api import router as whitespace_router
from .whitespace.consumers import HANDLERS as WHITESPACE_HANDLERS


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    return create_service_app(
        settings, title="KAM account-svc",
        description="Accounts: uniqueness and merge, hierarchy, assignment, classification, buying centre, "
                    "competitors, plans, interactions, complaints, whitespace.",
        tables=plumbing,
        routers=[classification_router, accounts_router, merge_router, records_router, whitespace_router],
        handlers={**CLASSIFICATION_HANDLERS, **ASSIGNMENT_HANDLERS, **WHITESPACE_HANDLERS},
        runtime_class=AccountRuntime)
