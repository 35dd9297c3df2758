"""Signing keys with rotation: a key ring in team-svc's database, shared by all its replicas.

* The newest key signs every new token (its `kid` is in the token header).
* When a newer key arrives (POST /v1/auth/keys/rotate, a new key file at start-up, or the
  automatic rotation age), the previous key is superseded: it stays in the JWKS until
  `valid_until` = superseded + token lifetime + leeway, i.e. until the last token it signed
  has expired, so no signed-in user is logged out by a rotation. After that it leaves the JWKS
  and its private half is erased.
* Other services verify with the JWKS and re-fetch it when they meet an unknown kid
  (`kam_shared.auth.TokenVerifier`), so a rotation needs nothing from them.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import OrderedDict

import jwt
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import IntegrityError

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal, SigningKey, TokenVerifier
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.team import SigningKeyRotated

from .repository import SigningKeys

log = logging.getLogger("team_svc.keys")
KEY_RING_SUBJECT = "signing-keys"


def private_pem(key: SigningKey) -> str:
    return key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()


class KeyRing:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._parsed: dict[str, SigningKey] = {}

    @property
    def _retention(self) -> dt.timedelta:
        s = self.runtime.settings
        return dt.timedelta(seconds=s.kam_token_lifetime_s + s.kam_jwt_leeway_s)

    async def install(self, key: SigningKey, source: str) -> bool:
        """Make `key` the signer unless the ring already knows it. Returns whether it was added."""
        async with self.runtime.db.session() as session:
            if await SigningKeys(session).known(key.kid):
                return False
        try:
            async with self.runtime.uow() as uow:
                await self._activate(uow, key, source)
        except IntegrityError:
            return False  # another replica installed the same key at the same moment
        log.info("signing key %s (%s) now signs new tokens", key.kid, source)
        return True

    async def rotate(self, uow: UnitOfWork) -> dict:
        key = SigningKey.generate()
        return await self._activate(uow, key, "rotation")

    async def _activate(self, uow: UnitOfWork, key: SigningKey, source: str) -> dict:
        repo = SigningKeys(uow.session)
        now = utcnow()
        previous = await repo.signing_kids()
        valid_until = now + self._retention
        if previous:
            await repo.supersede(previous, now, valid_until)
        # Keys whose last token has expired can never sign again: drop their private half.
        await repo.erase_expired_private_keys(now)
        await repo.add(dict(kid=key.kid, private_pem=private_pem(key), public_jwk=key.jwk(), source=source,
                            activated_at=now))
        count = await repo.count()
        uow.publish(DomainEvent("kam.team.signing_key_rotated.v1", KEY_RING_SUBJECT, count, SigningKeyRotated(
            kid=key.kid, previous_kid=previous[0] if previous else None,
            previous_valid_until=valid_until if previous else None, version=count)))
        self._parsed[key.kid] = key
        return {"kid": key.kid, "activated_at": now, "previous_kid": previous[0] if previous else None,
                "previous_valid_until": valid_until if previous else None}

    async def signer(self) -> tuple[SigningKey, dt.datetime]:
        """The newest key and when it became the signer."""
        async with self.runtime.db.session() as session:
            row = await SigningKeys(session).newest_signer()
        if row is None:
            raise RuntimeError("no signing key installed")
        key = self._parsed.get(row.kid)
        if key is None:
            key = self._parsed[row.kid] = SigningKey(
                serialization.load_pem_private_key(row.private_pem.encode(), password=None))
        return key, row.activated_at

    async def published(self) -> list[dict]:
        """The JWKS keys: the signer and every superseded key whose tokens may still be valid."""
        now = utcnow()
        async with self.runtime.db.session() as session:
            rows = await SigningKeys(session).published_jwks(now)
        return [dict(r) for r in rows]

    async def listing(self) -> list[dict]:
        now = utcnow()
        async with self.runtime.db.session() as session:
            rows = await SigningKeys(session).listing()
        out = []
        for index, r in enumerate(rows):
            status = ("signing" if r["superseded_at"] is None and index == 0 else
                      "verifying" if r["valid_until"] is None or r["valid_until"] > now else "retired")
            out.append({**r, "status": status})
        return out


class KeyRingVerifier(TokenVerifier):
    """team-svc verifies the tokens it issued straight from its key ring (never over HTTP to itself).
    Keys given in KAM_JWKS_JSON (tests, a trusted external issuer) are accepted as well.

    A client sends the same bearer token for its whole lifetime; a token verified once is
    remembered (bounded, until it expires), which takes the signature check off every request."""

    CACHE_SIZE = 10_000

    def __init__(self, settings, ring: KeyRing):
        super().__init__(settings)
        self.ring = ring
        self._static = dict(self._keys)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        principal = await super().verify(token)
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
        self._verified[token] = (principal, float(expires))
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def refresh(self) -> None:
        keys = dict(self._static)
        for entry in await self.ring.published():
            keys[entry["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(entry))
        self._keys = keys
