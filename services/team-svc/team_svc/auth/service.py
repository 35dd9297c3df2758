"""Sign-in: the throttle (in the database), the password check, tokens from the key ring."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import time

from kam_shared.app import Runtime
from kam_shared.domain_errors import TooManyRequests, Unauthorized
from kam_shared.events import utcnow

from . import passwords
from .domain import ThrottlePolicy, attempt, current, parse_networks, succeeded_from_address, wait_s
from .keyring import KeyRing
from .repository import Credentials, Throttle

log = logging.getLogger("team_svc")
PRUNE_EVERY_S = 60.0


def key_ring(runtime: Runtime) -> KeyRing:
    return runtime.key_ring


@functools.cache
def trusted_proxies(setting: str):
    return parse_networks(setting)


def account_policy(settings) -> ThrottlePolicy:
    return ThrottlePolicy(settings.kam_signin_account_free_failures, settings.kam_signin_max_delay_s,
                          settings.kam_signin_forget_after_s, settings.kam_signin_base_delay_s)


def address_policy(settings) -> ThrottlePolicy:
    return ThrottlePolicy(settings.kam_signin_address_free_failures, settings.kam_signin_max_delay_s,
                          settings.kam_signin_forget_after_s, settings.kam_signin_base_delay_s)


def _key(scope: str, *parts: str) -> str:
    return hashlib.sha256("\0".join((scope, *parts)).encode()).hexdigest()


def _too_many(detail: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(f"{detail}; try again in {seconds} s", retry_after=seconds,
                           headers={"Retry-After": str(seconds)})


class Attempt:
    """One password check for `email` from `address`, counted in the shared throttle."""

    def __init__(self, runtime: Runtime, email: str, address: str):
        self.runtime = runtime
        self.pair_key = _key("account", email, address)
        self.address_key = _key("address", address)

    async def claim(self) -> None:
        """Refuse (429) while either key must wait; otherwise count the attempt as a failure now."""
        settings = self.runtime.settings
        per_pair, per_address = account_policy(settings), address_policy(settings)
        now = utcnow()
        async with self.runtime.db.session() as session, session.begin():
            repo = Throttle(session)
            states = await repo.lock({self.pair_key: "account", self.address_key: "address"}, now)
            pair = current(per_pair, states[self.pair_key], now)
            address = current(per_address, states[self.address_key], now)
            if wait := wait_s(address, now):
                raise _too_many("too many failed sign-ins from this address", wait)
            if wait := wait_s(pair, now):
                raise _too_many("too many failed sign-ins for this account from this address", wait)
            await repo.save(self.pair_key, attempt(per_pair, pair, now))
            await repo.save(self.address_key, attempt(per_address, address, now))
        await self._prune_now_and_then()

    async def succeeded(self) -> None:
        policy = address_policy(self.runtime.settings)
        async with self.runtime.db.session() as session, session.begin():
            repo = Throttle(session)
            # Both rows, locked in the same order as claim() locks them (no deadlock between the two).
            states = await repo.lock({self.pair_key: "account", self.address_key: "address"}, utcnow())
            await repo.save(self.address_key, succeeded_from_address(policy, states[self.address_key]))
            await repo.forget(self.pair_key)

    async def _prune_now_and_then(self) -> None:
        """Rows nobody has tried for the forget period mean nothing any more; at most once a minute per
        replica, so a spray of made-up emails cannot grow the table without end."""
        if time.monotonic() - self.runtime.signin_throttle_pruned_at < PRUNE_EVERY_S:
            return
        self.runtime.signin_throttle_pruned_at = time.monotonic()
        cutoff = utcnow() - dt.timedelta(seconds=self.runtime.settings.kam_signin_forget_after_s)
        async with self.runtime.db.session() as session, session.begin():
            await Throttle(session).prune(cutoff)


async def check_credentials(runtime: Runtime, email: str, password: str, client_address: str):
    """The user's credential row if `password` is theirs and they are active, else None; throttled
    (429 before any hashing while the account-from-this-address or the address must wait)."""
    email = email.strip().lower()
    tries = Attempt(runtime, email, client_address)
    await tries.claim()
    async with runtime.db.session() as session:
        row = await Credentials(session).by_email(email)
    stored = row["password_hash"] if row else await passwords.dummy_hash(runtime)
    ok = await passwords.verify(runtime, stored, password) and row is not None and row["active"]
    if not ok:
        return None
    await tries.succeeded()
    if passwords.needs_rehash(runtime, stored):
        await _rehash(runtime, row["id"], password)
    return row


async def issue_token(runtime: Runtime, email: str, password: str, client_address: str) -> tuple[str, int]:
    row = await check_credentials(runtime, email, password, client_address)
    if row is None:
        raise Unauthorized("wrong email or password", headers={"WWW-Authenticate": "Bearer"})
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
                      lifetime_s=lifetime, must_change_password=bool(row["must_change_password"]))
    return token, lifetime


async def _rehash(runtime: Runtime, user_id, password: str) -> None:
    """The cost settings changed since this hash was made: store one with the current cost (no
    event: the hash never leaves team-svc)."""
    new_hash = await passwords.hash_password(runtime, password)
    async with runtime.db.session() as session, session.begin():
        await Credentials(session).set_password_hash(user_id, new_hash)
