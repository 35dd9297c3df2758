"""This replica's memory of what the shared (database) sign-in throttle already said: "this key is
blocked until T". An attempt for a key remembered as blocked is answered 429 from here, before any
database work; everything else goes to the database as before, which stays the one truth across
replicas.

Why it is safe: the memory only ever refuses, and only what the database refused (or wrote as
blocked) a moment ago, until at most the database's own `blocked_until`. It never lets through an
attempt the database would block, and it is keyed by the same throttle keys ((account, address)
and address), so it cannot block anyone the database would not block for the same reason.

It may refuse a little longer than the database would in one case: the database's block is
lifted early, which only a correct password from that very address does (it un-counts one
attempt and forgets the pair). This replica forgets its record at once when that happens here;
another replica trusts its record at most `KAM_SIGNIN_MEMORY_S` more, then asks the database again.

Tarpit: an address that keeps sending attempts for a key while it is blocked (more than
`tarpit_after` answered from memory in one block) has each further attempt held for `tarpit_s`,
or until the block ends if that is sooner, and then looked at again: still blocked, 429 with the
wait that is left; over, it goes to the database like any attempt. (Answering at once in a
block's last second instead made every ignored Retry-After a busy loop for that second.) At most
`max_held` attempts are held at once per replica; beyond that they are answered at once, so held
connections cannot grow memory without bound. A client that honours Retry-After is never held.

Turns: on one replica, attempts for the same key ask the database one after the other (`Turns`),
each after looking at what the one before it learned. The database serialises them anyway (a row
lock); waiting here instead means a burst against one blocked key costs one query, not one pooled
connection per attempt held on the row lock while everyone else waits for a connection.

BlockMemory has no I/O and no clock of its own: the times are passed in (wall clock for
`blocked_until`, which is what the database stores; a monotonic one for how long a record is trusted).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# Records kept per replica at most; the oldest goes first when full (it is then asked of the
# database again: forgetting costs a query, never correctness). ~300 bytes each.
MAX_RECORDS = 20_000


@dataclass(slots=True)
class Block:
    scope: str  # "account" (the (account, address) pair) or "address"
    blocked_until: dt.datetime  # what the database said; Retry-After counts down to it
    trust_until: float  # monotonic: after this the database is asked again
    hits: int = 0  # attempts answered from this record


@dataclass(frozen=True)
class Refusal:
    scope: str
    blocked_until: dt.datetime
    hold_s: float  # how long to hold the attempt before looking again (0 = answer at once)


class BlockMemory:
    def __init__(self, max_records: int = MAX_RECORDS):
        self.max_records = max_records
        self._blocks: dict[str, Block] = {}
        # Bumped by every forget: an attempt that read the database before a success lifted a block
        # must not write its older "blocked" back over the success (see learn's `since`).
        self.generation = 0
        self.held = 0  # answers being held right now (tarpit)

    def __len__(self) -> int:
        return len(self._blocks)

    def learn(self, key: str, scope: str, blocked_until: dt.datetime | None, *, now: dt.datetime, mono: float,
              trust_s: float, since: int) -> None:
        """The database says `key` is blocked until `blocked_until` (as of a read that began at
        generation `since`). Nothing is remembered when it is not blocked, when memory is off
        (trust_s <= 0), or when a success lifted a block on this replica since that read."""
        if blocked_until is None or blocked_until <= now or trust_s <= 0 or since != self.generation:
            return
        known = self._blocks.pop(key, None)
        hits = known.hits if known is not None and known.blocked_until == blocked_until else 0
        remaining = (blocked_until - now).total_seconds()
        while len(self._blocks) >= self.max_records:
            del self._blocks[next(iter(self._blocks))]  # the oldest record (insertion order)
        self._blocks[key] = Block(scope, blocked_until, mono + min(trust_s, remaining), hits)

    def forget(self, *keys: str) -> None:
        """A success lifted (or may have lifted) these keys' blocks in the database."""
        self.generation += 1
        for key in keys:
            self._blocks.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._blocks.clear()

    def refusal(self, keys: list[str], *, now: dt.datetime, mono: float, tarpit_after: int, tarpit_s: float,
                max_held: int) -> Refusal | None:
        """The first of `keys` (in the order the database checks them) remembered as blocked now,
        counted as one more hit, with the hold the tarpit rule gives it; None = ask the database."""
        for key in keys:
            block = self._blocks.get(key)
            if block is None:
                continue
            if mono >= block.trust_until or block.blocked_until <= now:
                del self._blocks[key]
                continue
            block.hits += 1
            return Refusal(block.scope, block.blocked_until,
                           self._hold_s(block, now, tarpit_after=tarpit_after, tarpit_s=tarpit_s, max_held=max_held))
        return None

    def _hold_s(self, block: Block, now: dt.datetime, *, tarpit_after: int, tarpit_s: float, max_held: int) -> float:
        if tarpit_s <= 0 or block.hits <= tarpit_after or self.held >= max_held:
            return 0.0
        return max(0.0, min(tarpit_s, (block.blocked_until - now).total_seconds()))


def retry_after_s(blocked_until: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds until `blocked_until`, at least 1 (the same rounding as domain.wait_s)."""
    return max(1, math.ceil((blocked_until - now).total_seconds()))


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting: the entry goes when nobody is


class Turns:
    """One holder at a time per key, in this process; entries exist only while someone holds or waits."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @asynccontextmanager
    async def turn(self, *keys: str) -> AsyncIterator[None]:
        """Every caller passes its keys in the same order (address, then pair: a pair key belongs to
        one address), so two holders never wait for each other."""
        held: list[tuple[str, _Turn]] = []
        try:
            for key in keys:
                entry = self._turns.get(key) or self._turns.setdefault(key, _Turn())
                entry.users += 1
                try:
                    await entry.lock.acquire()
                except BaseException:
                    self._leave(key, entry)
                    raise
                held.append((key, entry))
            yield
        finally:
            for key, entry in reversed(held):
                entry.lock.release()
                self._leave(key, entry)

    def _leave(self, key: str, entry: _Turn) -> None:
        entry.users -= 1
        if not entry.users:
            del self._turns[key]
