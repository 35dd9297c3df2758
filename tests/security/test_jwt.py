"""The JWT negative suite (RFC 8725, issue 13 items 1 and 7) against the four running services:
every token that is not exactly what team-svc issues is refused with 401 problem+json and
`WWW-Authenticate: Bearer error="invalid_token"`, never a 400 or a 500; the refresh grant's abuse
cases end in 401 too.

Forged tokens signed with the real key use the stack's own signing key file (team-svc reads the
same file), so that each test changes exactly one thing of a token that would otherwise pass."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kam_shared.auth import SigningKey
from kam_shared.services import SERVICES

PASSWORD = "lamp-tiger-7"
# One route per service that needs a token and takes no path or required query parameter.
PROBES = {"account-svc": "/v1/accounts", "opportunity-svc": "/v1/opportunities", "forecast-svc": "/v1/forecasts",
          "team-svc": "/v1/org-units"}
assert set(PROBES) == set(SERVICES), "a new service needs a probe route here"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict, claims, signature: bytes = b"") -> str:
    return ".".join((b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)))


@pytest.fixture(scope="module")
def real_key(stack) -> SigningKey:
    path = stack.log_dir.parent / "team-svc-jwt.pem"
    key = SigningKey(serialization.load_pem_private_key(path.read_bytes(), password=None))
    published = httpx.get(f"{stack.url('team-svc')}/.well-known/jwks.json").json()["keys"]
    assert key.kid in [k["kid"] for k in published], "the stack's key file is not in team-svc's JWKS"
    return key


@pytest.fixture(scope="module")
def victim(org) -> dict:
    """A real, active rep of the stack (their id makes forged tokens otherwise plausible)."""
    api, tokens, _ = org
    email = f"jwt.{uuid.uuid4().hex[:8]}@e2e.test"
    resp = api.call("POST", "team-svc", "/v1/users", tokens["admin"], json={
        "email": email, "name": "JWT target", "role": "rep", "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return {"id": resp.json()["id"], "email": email}


def claims_for(user: dict, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": "kam-team-svc", "aud": "kam", "sub": user["id"], "email": user["email"], "role": "admin",
              "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4())}
    for name, value in changes.items():
        if value is ...:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def signed(key: SigningKey, claims, **header) -> str:
    """RS256 by hand: PyJWT refuses to encode some of the bad claims and headers sent here."""
    head_body = ".".join((b64(json.dumps({"alg": "RS256", "kid": key.kid, "typ": "at+jwt", **header}).encode()),
                          b64(json.dumps(claims).encode())))
    return f"{head_body}.{b64(key.private_key.sign(head_body.encode(), *_pkcs1_sha256()))}"


def assert_refused_everywhere(stack, token: str, what: str) -> None:
    for service, path in PROBES.items():
        resp = httpx.get(f"{stack.url(service)}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        where = f"{what} on {service}"
        assert resp.status_code == 401, f"{where}: {resp.status_code} {resp.text[:300]}"
        assert resp.headers["content-type"].startswith("application/problem+json"), where
        assert resp.headers.get("www-authenticate") == 'Bearer error="invalid_token"', where
        assert resp.json()["status"] == 401, where


def test_the_control_a_well_formed_forged_token_with_the_real_key_is_accepted(stack, real_key, victim):
    """Without this, every refusal below could be for a reason the test did not intend."""
    token = signed(real_key, claims_for(victim, role="rep"))
    for service, path in PROBES.items():
        resp = httpx.get(f"{stack.url(service)}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert resp.status_code == 200, f"{service}: {resp.text[:300]}"


def _bad_claims(victim, now):
    return {
        "wrong iss": claims_for(victim, iss="https://evil.example"),
        "wrong aud": claims_for(victim, aud="another-api"),
        "aud list without kam": claims_for(victim, aud=["other"]),
        "expired": claims_for(victim, exp=now - 120),
        "nbf in the future": claims_for(victim, nbf=now + 3600),
        "iat in the future": claims_for(victim, iat=now + 3600),
        "string exp": claims_for(victim, exp=str(now + 600)),
        "string iat": claims_for(victim, iat=str(now)),
        "bool exp": claims_for(victim, exp=True),
        "missing exp": claims_for(victim, exp=...),
        "missing iat": claims_for(victim, iat=...),
        "missing sub": claims_for(victim, sub=...),
        "sub not a user id": claims_for(victim, sub="admin"),
        "numeric sub": claims_for(victim, sub=12345),
        "missing iss": claims_for(victim, iss=...),
        "missing aud": claims_for(victim, aud=...),
        "list iss": claims_for(victim, iss=["kam-team-svc"]),
        "unknown role": claims_for(victim, role="root"),
        "role list": claims_for(victim, role=["admin"]),
        "pwd_change not a bool": claims_for(victim, pwd_change="no"),
        "email not a string": claims_for(victim, email={"a": 1}),
    }


def test_tokens_with_bad_claims_are_401_on_every_service(stack, real_key, victim):
    for what, claims in _bad_claims(victim, int(time.time())).items():
        assert_refused_everywhere(stack, signed(real_key, claims), what)
    # A payload that is not a JSON object at all, correctly signed.
    for payload in ([1, 2], "admin", None):
        assert_refused_everywhere(stack, signed(real_key, payload), f"payload {payload!r}")


def _pkcs1_sha256():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    return padding.PKCS1v15(), hashes.SHA256()


def test_algorithm_and_header_attacks_are_401(stack, real_key, victim):
    claims = claims_for(victim)
    public_pem = real_key.public_pem()
    cases = {
        "alg none": compact({"alg": "none", "typ": "at+jwt", "kid": real_key.kid}, claims),
        "alg None, signature kept": compact({"alg": "None", "kid": real_key.kid}, claims, b"x"),
        "HS256 with the public key as the secret": _hs256(claims, public_pem, real_key.kid),
        "HS256 with the JWK's n as the secret": _hs256(claims, real_key.jwk()["n"].encode(), real_key.kid),
        "RS512 by the real key": jwt.encode(claims, real_key.private_key, algorithm="RS512",
                                            headers={"kid": real_key.kid, "typ": "at+jwt"}),
        "PS256 by the real key": jwt.encode(claims, real_key.private_key, algorithm="PS256",
                                            headers={"kid": real_key.kid, "typ": "at+jwt"}),
        "typ JWT": signed(real_key, claims, typ="JWT"),
        "no typ": jwt.encode(claims, real_key.private_key, algorithm="RS256", headers={"kid": real_key.kid}),
        "no kid": jwt.encode(claims, real_key.private_key, algorithm="RS256", headers={"typ": "at+jwt"}),
        "kid a list": signed(real_key, claims, kid=[real_key.kid]),
        "kid a number": signed(real_key, claims, kid=7),
        "unknown kid (a key of our own)": signed(SigningKey.generate(), claims),
        "the real kid, another key": jwt.encode(claims, SigningKey.generate().private_key, algorithm="RS256",
                                                headers={"kid": real_key.kid, "typ": "at+jwt"}),
        "jku pointing elsewhere, unknown kid": signed(SigningKey.generate(), claims, jku="https://evil.example/jwks"),
    }
    for what, token in cases.items():
        assert_refused_everywhere(stack, token, what)


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    head_body = ".".join((b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode()),
                          b64(json.dumps(claims).encode())))
    return f"{head_body}.{b64(hmac.new(secret, head_body.encode(), hashlib.sha256).digest())}"


def test_tampered_and_malformed_tokens_are_401(stack, real_key, victim):
    genuine = signed(real_key, claims_for(victim, role="rep"))
    head, body, signature = genuine.split(".")
    promoted = b64(json.dumps(claims_for(victim, role="admin")).encode())
    cases = {
        "payload swapped (rep -> admin)": f"{head}.{promoted}.{signature}",
        "signature of another token": f"{head}.{body}.{signed(real_key, claims_for(victim)).split('.')[2]}",
        "signature cut": f"{head}.{body}.",
        "signature flipped": f"{head}.{body}.{signature[:-4]}AAAA",
        "two parts": f"{head}.{body}",
        "four parts": f"{genuine}.{signature}",
        "not base64": "%%%.%%%.%%%",
        "header not JSON": f"{b64(b'not json')}.{body}.{signature}",
        "header a JSON list": f"{b64(b'[1]')}.{body}.{signature}",
        "empty parts": "..",
        "one word": "admin",
        "very long": "a" * 6000 + "." + "b" * 6000 + ".c",
    }
    for what, token in cases.items():
        assert_refused_everywhere(stack, token, what)


def test_an_unknown_kid_does_not_make_the_services_hammer_team_svc(stack, victim):
    """Each unknown kid may trigger a JWKS refresh, but at most one per 5 s per service: a burst of
    forged kids is refused quickly, not by a fetch each."""
    forged = [signed(SigningKey.generate(), claims_for(victim)) for _ in range(3)]
    started = time.monotonic()
    for _ in range(5):
        for token in forged:
            resp = httpx.get(f"{stack.url('opportunity-svc')}/v1/opportunities",
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert resp.status_code == 401
    assert time.monotonic() - started < 30


def test_a_deactivated_users_genuine_token_is_401_on_every_service(stack, org):
    api, tokens, _ = org
    email = f"jwt.gone.{uuid.uuid4().hex[:8]}@e2e.test"
    created = api.call("POST", "team-svc", "/v1/users", tokens["admin"], json={
        "email": email, "name": "Soon gone", "role": "rep", "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = api.token(email, PASSWORD)["Authorization"].split()[1]
    for service, path in PROBES.items():  # every service has learnt of the user before the change
        wait = time.monotonic() + 60
        while httpx.get(f"{stack.url(service)}{path}", headers={"Authorization": f"Bearer {token}"}).status_code != 200:
            assert time.monotonic() < wait, service
            time.sleep(0.1)
    gone = api.call("PATCH", "team-svc", f"/v1/users/{created.json()['id']}", {**tokens["admin"], "If-Match": '"1"'},
                    json={"active": False})
    assert gone.status_code == 200, gone.text
    deadline = time.monotonic() + 60
    while True:
        try:
            assert_refused_everywhere(stack, token, "deactivated user")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _pair(stack, email: str, password: str = PASSWORD) -> dict:
    resp = httpx.post(f"{stack.url('team-svc')}/v1/auth/token",
                      data={"grant_type": "password", "username": email, "password": password})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    return resp.json()


def _refresh(stack, token: str) -> httpx.Response:
    return httpx.post(f"{stack.url('team-svc')}/v1/auth/token",
                      data={"grant_type": "refresh_token", "refresh_token": token})


def _assert_grant_refused(resp: httpx.Response, reason: str) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert resp.json()["reason"] == reason, resp.text


def test_refresh_token_reuse_revokes_the_family(stack, victim):
    first = _pair(stack, victim["email"])
    second = _refresh(stack, first["refresh_token"])
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    assert httpx.get(f"{stack.url('account-svc')}/v1/accounts",
                     headers={"Authorization": f"Bearer {second.json()['access_token']}"}).status_code == 200
    _assert_grant_refused(_refresh(stack, first["refresh_token"]), "reused")  # the thief, or the victim late
    _assert_grant_refused(_refresh(stack, second.json()["refresh_token"]), "revoked")  # the family is gone


def test_refresh_after_a_password_change_is_401(stack, org):
    api, tokens, _ = org
    email = f"jwt.pw.{uuid.uuid4().hex[:8]}@e2e.test"
    assert api.call("POST", "team-svc", "/v1/users", tokens["admin"], json={
        "email": email, "name": "Changes password", "role": "rep", "password": PASSWORD}).status_code == 201
    stolen = _pair(stack, email)
    mine = _pair(stack, email)
    changed = httpx.post(f"{stack.url('team-svc')}/v1/users/me/password",
                         headers={"Authorization": f"Bearer {mine['access_token']}"},
                         json={"current_password": PASSWORD, "new_password": "orbit-lamp-tiger-42"})
    assert changed.status_code == 204, changed.text
    for pair in (stolen, mine):
        _assert_grant_refused(_refresh(stack, pair["refresh_token"]), "revoked")
