"""Sign-in: rate limits, password check, tokens from the key ring."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kam_shared.app import Runtime
from kam_shared.domain_errors import TooManyRequests, Unauthorized
from kam_shared.events import utcnow

from . import passwords
from .domain import SlidingWindowLimiter
from .keyring import KeyRing
from .repository import Credentials

log = logging.getLogger("team_svc")


@dataclass
class LoginLimits:
    """Failed sign-ins per account (an email, known or not) and all attempts per client address."""
    account: SlidingWindowLimiter
    address: SlidingWindowLimiter

    @classmethod
    def from_settings(cls, settings) -> "LoginLimits":
        return cls(SlidingWindowLimiter(settings.kam_login_account_max_failures, settings.kam_login_account_window_s,
                                        time.monotonic),
                   SlidingWindowLimiter(settings.kam_login_address_max_attempts, settings.kam_login_address_window_s,
                                        time.monotonic))


def login_limits(runtime: Runtime) -> LoginLimits:
    found = runtime.login_limits
    if found is None:
        found = runtime.login_limits = LoginLimits.from_settings(runtime.settings)
    return found


def key_ring(runtime: Runtime) -> KeyRing:
    return runtime.key_ring


def _too_many(detail: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(f"{detail}; try again in {seconds} s", retry_after=seconds,
                           headers={"Retry-After": str(seconds)})


async def issue_token(runtime: Runtime, email: str, password: str, client_address: str) -> tuple[str, int]:
    limits = login_limits(runtime)
    email = email.strip().lower()
    wait = limits.address.retry_after(client_address)
    if wait:
        raise _too_many("too many sign-in attempts from this address", wait)
    wait = limits.account.retry_after(email)
    if wait:
        raise _too_many("too many failed sign-ins for this account", wait)
    # Both counted before the (slow) check, so parallel guesses cannot slip past the limit;
    # a successful sign-in clears the account's count again.
    limits.address.hit(client_address)
    limits.account.hit(email)
    async with runtime.db.session() as session:
        row = await Credentials(session).by_email(email)
    stored = row["password_hash"] if row else await passwords.dummy_hash(runtime)
    ok = await passwords.verify(runtime, stored, password) and row is not None and row["active"]
    if not ok:
        raise Unauthorized("wrong email or password", headers={"WWW-Authenticate": "Bearer"})
    limits.account.reset(email)
    if passwords.needs_rehash(runtime, stored):
        await _rehash(runtime, row["id"], password)
    ring = key_ring(runtime)
    key, activated_at = await ring.signer()
    rotate_after = runtime.settings.kam_jwt_rotate_after_s
    if rotate_after and (utcnow() - activated_at).total_seconds() > rotate_after:
        async with runtime.uow() as uow:
            await ring.rotate(uow)
        key, _ = await ring.signer()
    lifetime = runtime.settings.kam_token_lifetime_s
    token = key.issue(user_id=row["id"], email=row["email"], role=row["role"],
                      issuer=runtime.settings.kam_jwt_issuer, audience=runtime.settings.kam_jwt_audience,
                      lifetime_s=lifetime)
    return token, lifetime


async def _rehash(runtime: Runtime, user_id, password: str) -> None:
    """The cost settings went up since this hash was made: store a stronger one (no event: the
    hash never leaves team-svc)."""
    new_hash = await passwords.hash_password(runtime, password)
    async with runtime.db.session() as session, session.begin():
        await Credentials(session).set_password_hash(user_id, new_hash)
