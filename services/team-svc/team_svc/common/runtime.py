"""team-svc's typed runtime: what its slices keep for the life of the process, by name and type
(instead of an untyped bag), and the resources it opens and closes with the service."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kam_shared.app import Runtime

from .models import users

if TYPE_CHECKING:  # the auth and territories slices own these types and import this module
    from ..auth.keyring import KeyRing


class TeamRuntime(Runtime):
    def __init__(self, settings, tables):
        super().__init__(settings, tables)
        self.key_ring: KeyRing | None = None  # set at start-up (auth/startup.py)
        self.read_engine: AsyncEngine | None = None  # PostgreSQL only (read_pool below)
        self.password_hasher: Any = None  # argon2 PasswordHasher, made on first use
        self.password_dummy_hash: str | None = None
        self.password_gate: Any = None  # auth.passwords.HashGate, made on first use
        self.signin_blocks: Any = None  # auth.blocks.BlockMemory: what the DB throttle said is blocked
        self.signin_turns: Any = None  # auth.blocks.Turns: one throttle query per key at a time
        self.signin_throttle_pruned_at = 0.0  # monotonic time of this replica's last prune
        self.refresh_tokens_pruned_at = 0.0  # likewise for expired refresh tokens
        self.rule_book: Any = None  # territories.service.CachedRuleBook, rebuilt on a revision change
        self.users_of_record = users  # team-svc owns the users: authority comes from its own table


@asynccontextmanager
async def read_pool(runtime: TeamRuntime) -> AsyncIterator[None]:
    """Hot read paths (is-above, subtree, chain, match) use their own autocommit pool on
    PostgreSQL (see common/read_pool.read_only), disposed when the service stops."""
    if runtime.db.sqlite:
        yield
        return
    runtime.read_engine = create_async_engine(runtime.db.url, isolation_level="AUTOCOMMIT", pool_size=5,
                                              max_overflow=5, pool_pre_ping=True)
    try:
        yield
    finally:
        await runtime.read_engine.dispose()
        runtime.read_engine = None
