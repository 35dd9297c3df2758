"""account-svc's runtime: kam_shared's Runtime plus what this service caches per process, and a unit
of work that derives state (account health) from the events it is about to commit."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from kam_shared.app import Runtime, UnitOfWork

Derivation = Callable[[UnitOfWork, list], Awaitable[None]]


class AccountUnitOfWork(UnitOfWork):
    async def commit(self) -> None:
        # Derived state is written in the same transaction as the change it derives from; a
        # derivation may publish events of its own (they commit in the same outbox write).
        for derive in self.runtime.derivations:
            await derive(self, list(self._events))
        await super().commit()


class AccountRuntime(Runtime):
    # Whether the database has pg_trgm (near-duplicate search by index); None until first asked.
    pg_trgm: bool | None = None
    # Called before every unit of work commits, with the events it publishes (main.py lists them).
    derivations: tuple[Derivation, ...] = ()

    def uow(self) -> UnitOfWork:
        return AccountUnitOfWork(self)
