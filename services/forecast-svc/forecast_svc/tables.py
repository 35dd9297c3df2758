"""Every table of forecast-svc on one MetaData (Alembic's autogenerate and the schema test read it):
importing each slice's models defines its tables."""
from .categories import models as _categories  # noqa: F401
from .common.models import metadata, plumbing  # noqa: F401
from .health import models as _health  # noqa: F401
from .periods import models as _periods  # noqa: F401
from .predictions import models as _predictions  # noqa: F401
from .rates import models as _rates  # noqa: F401
from .rollups import models as _rollups  # noqa: F401
from .submission import models as _submission  # noqa: F401
