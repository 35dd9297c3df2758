"""Tokens: team-svc signs RS256 JWTs and publishes a JWKS; every service verifies locally.

`Principal` is who is calling. What they may see follows the hierarchy replica
(`kam_shared.hierarchy.Visibility`).
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .actor import set_actor
from .errors import Forbidden, Unauthorized
from .settings import ServiceSettings

ROLES = ("rep", "manager", "admin")
# The one route a token issued while the user must change their password opens (team-svc).
PASSWORD_CHANGE_PATH = "/v1/users/me/password"
PASSWORD_CHANGE_CLAIM = "pwd_change"
# RFC 8725 §3.1/§3.11: the one algorithm we sign with, and an explicit type (RFC 9068's access
# token type) so that no other JWT of ours can be passed off as an access token.
ALGORITHM = "RS256"
TOKEN_TYPE = "at+jwt"
# Clock skew allowed between team-svc and a verifier (iat/nbf a little in the future, exp a little past).
CLOCK_LEEWAY_S = 30
_STRING_CLAIMS = ("iss", "sub", "role", "email", "jti")
_NUMERIC_CLAIMS = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    email: str
    token: str = ""
    # Signed in with a temporary (or the bootstrap) password: only PASSWORD_CHANGE_PATH is open.
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SigningKey:
    def __init__(self, private_key: rsa.RSAPrivateKey):
        self.private_key = private_key
        self.kid = jwt.utils.base64url_encode(
            __import__("hashlib").sha256(self.public_pem()).digest()[:12]).decode()

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def load_or_create(cls, path: Path) -> "SigningKey":
        if path.exists():
            return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        path.chmod(0o600)
        return key

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        data.update({"kid": self.kid, "use": "sig", "alg": ALGORITHM})
        return data

    def issue(self, *, user_id: uuid.UUID, email: str, role: str, issuer: str, audience: str,
              lifetime_s: int, must_change_password: bool = False) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "aud": audience, "sub": str(user_id), "email": email, "role": role,
                  "iat": now, "nbf": now, "exp": now + lifetime_s, "jti": str(uuid.uuid4())}
        if must_change_password:
            claims[PASSWORD_CHANGE_CLAIM] = True
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": TOKEN_TYPE})


def jwks_document(keys: list[SigningKey]) -> dict:
    return {"keys": [k.jwk() for k in keys]}


class TokenVerifier:
    """Verifies bearer tokens against team-svc's JWKS, fetched once and refreshed on an unknown kid."""

    CACHE_SIZE = 10_000

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        # Verified tokens until they expire: RSA verification on every request is pure overhead,
        # and a JWT cannot be revoked before its expiry anyway.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        if settings.kam_jwks_json:
            self._load(json.loads(settings.kam_jwks_json))

    def _load(self, document: dict) -> None:
        keys = {}
        for entry in document.get("keys", []):
            keys[entry["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(entry))
        self._keys = keys

    async def refresh(self) -> None:
        if self.settings.kam_jwks_json:
            return
        async with self._lock:
            if time.monotonic() - self._fetched_at < 5:
                return  # someone just refreshed; don't hammer team-svc with forged kids
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    resp = await client.get(self.settings.kam_jwks_url)
                    resp.raise_for_status()
                    self._load(resp.json())
            except (httpx.HTTPError, ValueError, KeyError):
                pass  # keep the keys we have; an unknown kid stays unknown -> 401
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                return principal
            del self._verified[token]
        principal, expires = await self._verify(token)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.clear()  # crude but bounded; refills with the tokens in use
        self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """RFC 8725: the header first (algorithm, type, key), then the signature, then every claim's
        type and value. Anything wrong is Unauthorized (401), never a 400 or a 500."""
        key = await self._key_for(_header(token))
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.settings.kam_jwt_audience,
                                issuer=self.settings.kam_jwt_issuer,
                                # exp strictly; nbf and iat below, with the clock leeway
                                options={"require": ["iss", "aud", "exp", "iat", "sub", "role"],
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("bearer token has expired") from None
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise Unauthorized(f"bearer token is invalid: {exc}") from None
        return check_claims(claims, token, now=time.time()), float(claims["exp"])

    async def _key_for(self, header: dict):
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"bearer token must be signed with {ALGORITHM}")
        if header.get("typ") != TOKEN_TYPE:
            raise Unauthorized(f"bearer token type must be {TOKEN_TYPE}")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("bearer token has no key id (kid)")
        if kid not in self._keys:
            await self.refresh()  # at most one JWKS fetch (and at most one per 5 s for everyone)
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("bearer token was not signed by a known key")
        return key


def _header(token: str) -> dict:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, TypeError, ValueError):
        raise Unauthorized("bearer token is malformed") from None
    if not isinstance(header, dict):
        raise Unauthorized("bearer token is malformed")
    return header


def check_claims(claims: dict, token: str, *, now: float) -> Principal:
    """Every claim of a verified signature, by type and value (PyJWT checked exp, iss and aud)."""
    for claim in _NUMERIC_CLAIMS:  # RFC 7519 NumericDate: a number, never a string or a bool
        if claim in claims and (isinstance(claims[claim], bool) or not isinstance(claims[claim], int | float)):
            raise Unauthorized(f"bearer token claim {claim} is not a number")
    for claim in _STRING_CLAIMS:
        if claim in claims and not isinstance(claims[claim], str):
            raise Unauthorized(f"bearer token claim {claim} is not a string")
    if not isinstance(claims["aud"], str | list):
        raise Unauthorized("bearer token claim aud is not a string")
    if claims["iat"] > now + CLOCK_LEEWAY_S:
        raise Unauthorized("bearer token was issued in the future (iat)")
    if claims.get("nbf", 0) > now + CLOCK_LEEWAY_S:
        raise Unauthorized("bearer token is not valid yet (nbf)")
    if PASSWORD_CHANGE_CLAIM in claims and not isinstance(claims[PASSWORD_CHANGE_CLAIM], bool):
        raise Unauthorized(f"bearer token claim {PASSWORD_CHANGE_CLAIM} is not a boolean")
    if claims["role"] not in ROLES:
        raise Unauthorized("bearer token has an unknown role")
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise Unauthorized("bearer token subject is not a user id") from None
    return Principal(user_id=user_id, role=claims["role"], email=claims.get("email", ""), token=token,
                     must_change_password=claims.get(PASSWORD_CHANGE_CLAIM) is True)


_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                     description="JWT from team-svc `POST /v1/auth/token`")


async def current_principal(request: Request,
                            creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)",
                           headers={"WWW-Authenticate": "Bearer"})
    runtime = request.app.state.runtime
    try:
        principal = await runtime.verifier.verify(creds.credentials)
        # The token proves who is calling; what they may do is the user's state now.
        principal = await runtime.authority.current(principal)
    except Unauthorized as exc:
        exc.extra["headers"] = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        raise
    if principal.must_change_password and getattr(request.scope.get("route"), "path", None) != PASSWORD_CHANGE_PATH:
        raise Forbidden(f"the password must be changed first (POST {PASSWORD_CHANGE_PATH}), then sign in again",
                        reason="password_change_required")
    set_actor(principal.user_id)  # the events this request causes name their actor (kam_shared.actor)
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class CurrentAuthority:
    """A principal's role and active flag as they are now, from the service's copy of the users
    (team-svc's own table, the user replica elsewhere), not as the token said when it was issued:
    a deactivated user is refused and a demoted one loses the powers within the replica's lag.

    Looked up per user at most once a second (`ttl_s`) per process, so the cost is one primary-key
    read per user per second. A user the copy does not know yet (created a moment ago, replica
    behind) keeps the token's claims: the token is no older than the user.
    """

    def __init__(self, lookup, ttl_s: float = 1.0):
        self.lookup = lookup  # async (user_id) -> (role, active) | None
        self.ttl_s = ttl_s
        self._seen: dict[uuid.UUID, tuple[tuple[str, bool] | None, float]] = {}

    async def current(self, principal: Principal) -> Principal:
        if self.lookup is None:
            return principal
        state = await self._state(principal.user_id)
        if state is None:
            return principal
        role, active = state
        if not active:
            raise Unauthorized("this user is deactivated")
        return principal if role == principal.role else dataclasses.replace(principal, role=role)

    async def _state(self, user_id: uuid.UUID) -> tuple[str, bool] | None:
        now = time.monotonic()
        seen = self._seen.get(user_id)
        if seen is not None and now - seen[1] < self.ttl_s:
            return seen[0]
        state = await self.lookup(user_id)
        if len(self._seen) >= TokenVerifier.CACHE_SIZE:
            self._seen.clear()
        self._seen[user_id] = (state, now)
        return state

    def forget(self, user_id: uuid.UUID) -> None:
        """This process changed the user itself (team-svc): the next request reads afresh."""
        self._seen.pop(user_id, None)


def token_lifetime(seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)
