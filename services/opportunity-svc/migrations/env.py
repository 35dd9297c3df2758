from kam_shared.migrations import run_env
from opportunity_svc.main import metadata
from opportunity_svc.settings import Settings

run_env(metadata, lambda: Settings().effective_database_url())
