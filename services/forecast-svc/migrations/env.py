from kam_shared.migrations import run_env

from forecast_svc.models import metadata
from forecast_svc.settings import Settings

run_env(metadata, lambda: Settings().effective_database_url())
