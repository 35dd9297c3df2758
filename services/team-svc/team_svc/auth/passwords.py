"""Password hashing: argon2id with the cost from settings (hashes carry their own parameters)."""
from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kam_shared.app import Runtime


def hasher(runtime: Runtime) -> PasswordHasher:
    found = runtime.password_hasher
    if found is None:
        s = runtime.settings
        found = runtime.password_hasher = PasswordHasher(
            time_cost=s.kam_password_time_cost, memory_cost=s.kam_password_memory_kib,
            parallelism=s.kam_password_parallelism)
    return found


async def hash_password(runtime: Runtime, password: str) -> str:
    return await asyncio.to_thread(hasher(runtime).hash, password)


async def dummy_hash(runtime: Runtime) -> str:
    """Verifying against this keeps "no such user" as slow as "wrong password"."""
    found = runtime.password_dummy_hash
    if found is None:
        found = runtime.password_dummy_hash = await hash_password(runtime, "not-a-real-password")
    return found


async def verify(runtime: Runtime, stored: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(hasher(runtime).verify, stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(runtime: Runtime, stored: str) -> bool:
    try:
        return hasher(runtime).check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True
