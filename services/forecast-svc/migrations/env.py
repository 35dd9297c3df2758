from forecast_svc.settings import Settings
from forecast_svc.tables import metadata
from kam_shared.migrations import run_env

run_env(metadata, lambda: Settings().effective_database_url())
