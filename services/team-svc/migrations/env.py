from kam_shared.migrations import run_env
from team_svc.main import metadata
from team_svc.settings import Settings

run_env(metadata, lambda: Settings().effective_database_url())
