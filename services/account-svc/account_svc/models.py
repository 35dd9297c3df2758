"""Every table of account-svc on its one MetaData, for Alembic (migrations/env.py) and tests: the
plumbing (common.tables) and each slice's own (imported here so the MetaData is complete)."""
from .accounts import models as accounts_models  # noqa: F401
from .assignment import models as assignment_models  # noqa: F401
from .classification import models as classification_models  # noqa: F401
from .common.tables import metadata, plumbing  # noqa: F401
from .health import models as health_models  # noqa: F401
from .records import models as records_models  # noqa: F401
from .whitespace import models as whitespace_models  # noqa: F401
