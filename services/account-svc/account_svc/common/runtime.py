"""account-svc's runtime: kam_shared's Runtime plus what this service caches per process."""
from __future__ import annotations

from kam_shared.app import Runtime


class AccountRuntime(Runtime):
    # Whether the database has pg_trgm (near-duplicate search by index); None until first asked.
    pg_trgm: bool | None = None
