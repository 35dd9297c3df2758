from kam_shared.migrations import run_env

from account_svc.models import metadata
from account_svc.settings import Settings

run_env(metadata, lambda: Settings().effective_database_url())
