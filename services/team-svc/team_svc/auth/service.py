"""Sign-in: the throttle (in the database), the password check, tokens from the key ring, rotating
refresh tokens (stored hashed; reuse revokes the family) and their revocation."""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.domain_errors import TooManyRequests, Unauthorized
from kam_shared.events import utcnow

from . import passwords
from .blocks import BlockMemory, Refusal, Turns, retry_after_s
from .domain import (
    ThrottlePolicy,
    ThrottleState,
    attempt,
    current,
    parse_networks,
    refresh_verdict,
    succeeded_from_address,
    wait_s,
)
from .keyring import KeyRing
from .repository import Credentials, RefreshTokens, Throttle

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


_BLOCKED = {"address": "too many failed sign-ins from this address",
            "account": "too many failed sign-ins for this account from this address"}


def _too_many(detail: str, seconds: int) -> TooManyRequests:
    return TooManyRequests(f"{detail}; try again in {seconds} s", retry_after=seconds,
                           headers={"Retry-After": str(seconds)})


def blocks(runtime: Runtime) -> BlockMemory:
    found = runtime.signin_blocks
    if found is None:
        found = runtime.signin_blocks = BlockMemory()
    return found


def turns(runtime: Runtime) -> Turns:
    found = runtime.signin_turns
    if found is None:
        found = runtime.signin_turns = Turns()
    return found


class Attempt:
    """One password check for `email` from `address`, counted in the shared throttle."""

    def __init__(self, runtime: Runtime, email: str, address: str):
        self.runtime = runtime
        self.pair_key = _key("account", email, address)
        self.address_key = _key("address", address)

    async def claim(self) -> None:
        """Refuse (429) while either key must wait; otherwise count the attempt as a failure now.
        A key this replica already knows to be blocked is refused from memory, without the database
        (held first by the tarpit when it keeps being tried); attempts for the same key on this
        replica ask the database one at a time."""
        memory, held = blocks(self.runtime), False
        while True:
            refusal = self._remembered(memory)
            if refusal is None:
                async with turns(self.runtime).turn(self.address_key, self.pair_key):
                    refusal = self._remembered(memory)  # what the attempt ahead of this one learned
                    if refusal is None:
                        await self._count()  # else the database (429 while it says wait)
                        break
            if held or not refusal.hold_s:
                raise _too_many(_BLOCKED[refusal.scope], retry_after_s(refusal.blocked_until, utcnow()))
            # Held (outside any turn: a held attempt never delays another's), then looked at again:
            # still blocked, 429 with the wait that is left; over, the database as for anyone.
            await self._hold(memory, refusal.hold_s)
            held = True
        await self._prune_now_and_then()

    async def _count(self) -> None:
        """The shared throttle: refuse while a key must wait, else count this attempt as a failure."""
        settings = self.runtime.settings
        memory = blocks(self.runtime)
        per_pair, per_address = account_policy(settings), address_policy(settings)
        now, since = utcnow(), memory.generation
        async with self.runtime.db.session() as session, session.begin():
            repo = Throttle(session)
            states = await repo.lock({self.pair_key: "account", self.address_key: "address"}, now)
            pair = current(per_pair, states[self.pair_key], now)
            address = current(per_address, states[self.address_key], now)
            for scope, state in (("address", address), ("account", pair)):
                if wait := wait_s(state, now):
                    self._learn(memory, now, since, **{scope: state})  # what the database just said
                    raise _too_many(_BLOCKED[scope], wait)
            pair, address = attempt(per_pair, pair, now), attempt(per_address, address, now)
            await repo.save(self.pair_key, pair)
            await repo.save(self.address_key, address)
        # Committed: this attempt's own failure may have started a block (the next ones need not ask).
        self._learn(memory, now, since, account=pair, address=address)

    def _learn(self, memory: BlockMemory, now: dt.datetime, since: int, *, account: ThrottleState | None = None,
               address: ThrottleState | None = None) -> None:
        trust_s = self.runtime.settings.kam_signin_memory_s
        for key, scope, state in ((self.address_key, "address", address), (self.pair_key, "account", account)):
            if state is not None:
                memory.learn(key, scope, state.blocked_until, now=now, mono=time.monotonic(), trust_s=trust_s,
                             since=since)

    def _remembered(self, memory: BlockMemory) -> Refusal | None:
        settings = self.runtime.settings
        return memory.refusal([self.address_key, self.pair_key], now=utcnow(), mono=time.monotonic(),
                              tarpit_after=settings.kam_signin_tarpit_after, tarpit_s=settings.kam_signin_tarpit_s,
                              max_held=settings.kam_signin_tarpit_max_held)

    @staticmethod
    async def _hold(memory: BlockMemory, seconds: float) -> None:
        memory.held += 1  # before the first await: the bound counts this hold at once
        try:
            await asyncio.sleep(seconds)
        finally:
            memory.held -= 1

    async def succeeded(self) -> None:
        policy = address_policy(self.runtime.settings)
        async with self.runtime.db.session() as session, session.begin():
            repo = Throttle(session)
            # Both rows, locked in the same order as claim() locks them (no deadlock between the two).
            states = await repo.lock({self.pair_key: "account", self.address_key: "address"}, utcnow())
            await repo.save(self.address_key, succeeded_from_address(policy, states[self.address_key]))
            await repo.forget(self.pair_key)
        # The pair is forgotten and the address may no longer wait: this replica asks the database
        # again next time (the address, if still blocked, is learned again on its next attempt).
        blocks(self.runtime).forget(self.pair_key, self.address_key)

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
    ok = await passwords.verify(runtime, stored, password, key=client_address) and row is not None and row["active"]
    if not ok:
        return None
    await tries.succeeded()
    if passwords.needs_rehash(runtime, stored):
        await _rehash(runtime, row["id"], password)
    return row


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_REFUSED = {
    "unknown": "refresh_token is not a valid refresh token",
    "revoked": "refresh_token was revoked (signed out, password changed, deactivated or revoked by an admin); "
               "sign in again",
    "reused": "refresh_token was already used: every session token of this sign-in is now revoked; sign in again",
    "expired": "refresh_token has expired; sign in again",
    "user_deactivated": "this user is deactivated",
    "password_change_required": "the password must be changed first; sign in again",
}


async def issue_token(runtime: Runtime, email: str, password: str, client_address: str) -> TokenPair:
    """grant_type=password: an access token and the first refresh token of a new family (none while
    the password must be changed: that token opens one route only)."""
    row = await check_credentials(runtime, email, password, client_address)
    if row is None:
        raise Unauthorized("wrong email or password", headers={"WWW-Authenticate": "Bearer"})
    access, lifetime = await _access_token(runtime, row)
    if row["must_change_password"]:
        return TokenPair(access, lifetime)
    await _prune_refresh_tokens_now_and_then(runtime)
    async with runtime.uow() as uow:
        refresh, refresh_lifetime = await _new_refresh_token(uow.session, runtime, row["id"], uuid.uuid4())
    return TokenPair(access, lifetime, refresh, refresh_lifetime)


async def refresh_token_grant(runtime: Runtime, presented: str) -> TokenPair:
    """grant_type=refresh_token: the presented token is used up and the next of its family issued
    with a fresh access token (the user's current role). A token presented a second time revokes the
    family; one of a deactivated user, or of one who must change their password, likewise."""
    token_hash = _hash(presented)
    now = utcnow()
    async with runtime.uow() as uow:
        repo = RefreshTokens(uow.session)
        row, state = await repo.presented(token_hash)
        verdict = refresh_verdict(state, now)
        if verdict == "ok":
            await repo.mark_used(token_hash, now)
            refresh, refresh_lifetime = await _new_refresh_token(uow.session, runtime, row["user_id"],
                                                                 row["family_id"])
            user = await Credentials(uow.session).by_id(row["user_id"])
        elif verdict in ("reused", "user_deactivated", "password_change_required"):
            await repo.revoke_family(row["family_id"], now, verdict)
    # The revocation above is committed before the refusal: a replayed token ends its family for good.
    if verdict != "ok":
        if verdict == "reused":
            log.warning("refresh token reused: family %s of user %s revoked", row["family_id"], row["user_id"])
        raise Unauthorized(_REFUSED[verdict], field="refresh_token", reason=verdict, headers=INVALID_TOKEN)
    access, lifetime = await _access_token(runtime, user)
    return TokenPair(access, lifetime, refresh, refresh_lifetime)


async def revoke_refresh_token(runtime: Runtime, presented: str) -> None:
    """RFC 7009 revocation (sign-out): the presented refresh token's whole sign-in (its family) ends.
    An unknown, expired or already revoked token changes nothing and is not an error (§2.2): the
    answer says nothing about which tokens exist."""
    async with runtime.uow() as uow:
        repo = RefreshTokens(uow.session)
        family = await repo.family_of(_hash(presented))
        if family is not None:
            await repo.revoke_family(family, utcnow(), "signed_out")
    if family is not None:
        log.info("refresh token family %s revoked (signed out)", family)


async def revoke_sessions(session: AsyncSession, user_id: uuid.UUID, reason: str) -> int:
    """End every refresh token of the user, in the caller's transaction (deactivation, password change
    or reset, an admin's revoke): the number of sessions ended. Access tokens stop at their expiry
    (KAM_TOKEN_LIFETIME_S), a deactivated user's at once on every service (the user replica)."""
    ended = await RefreshTokens(session).revoke_user(user_id, utcnow(), reason)
    log.info("refresh tokens of user %s revoked (%s): %d sessions", user_id, reason, ended)
    return ended


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def _new_refresh_token(session: AsyncSession, runtime: Runtime, user_id: uuid.UUID,
                             family_id: uuid.UUID) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    lifetime = runtime.settings.kam_refresh_token_lifetime_s
    now = utcnow()
    await RefreshTokens(session).add(token_hash=_hash(token), family_id=family_id, user_id=user_id, now=now,
                                     expires_at=now + dt.timedelta(seconds=lifetime))
    return token, lifetime


async def _access_token(runtime: Runtime, row) -> tuple[str, int]:
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


async def _prune_refresh_tokens_now_and_then(runtime: Runtime) -> None:
    """Expired refresh tokens (kept a day, so a late replay is still recognised) go, at most once a
    minute per replica."""
    if time.monotonic() - runtime.refresh_tokens_pruned_at < PRUNE_EVERY_S:
        return
    runtime.refresh_tokens_pruned_at = time.monotonic()
    async with runtime.db.session() as session, session.begin():
        await RefreshTokens(session).prune(utcnow() - dt.timedelta(days=1))


async def _rehash(runtime: Runtime, user_id, password: str) -> None:
    """The cost settings changed since this hash was made: store one with the current cost (no
    event: the hash never leaves team-svc)."""
    new_hash = await passwords.hash_password(runtime, password)
    async with runtime.db.session() as session, session.begin():
        await Credentials(session).set_password_hash(user_id, new_hash)
