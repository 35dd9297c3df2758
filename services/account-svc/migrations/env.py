from account_svc.models import metadata
from account_svc.settings import Settings
from kam_shared.migrations import run_env

run_env(metadata, lambda: Settings().effective_database_url())
