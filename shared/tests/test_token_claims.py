"""TokenVerifier's strict checks (RFC 8725) without a stack: every deviation from what team-svc
issues is Unauthorized, never another exception (tests/security/test_jwt.py does the same over
HTTP against the four services)."""
import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kam_shared.auth import SigningKey, TokenVerifier
from kam_shared.errors import Unauthorized
from kam_shared.settings import ServiceSettings
from kam_shared.testing import jwks_json_for_tests, signing_key_for_tests


def claims(**changes) -> dict:
    now = int(time.time())
    out = {"iss": "kam-team-svc", "aud": "kam", "sub": str(uuid.uuid4()), "email": "a@b.c", "role": "rep",
           "iat": now, "nbf": now, "exp": now + 600, "jti": "j"}
    for name, value in changes.items():
        if value is ...:
            out.pop(name)
        else:
            out[name] = value
    return out


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def signed(body, key: SigningKey | None = None, **header) -> str:
    """RS256 by hand: PyJWT refuses to encode some of the bad claims and headers tested here."""
    key = key or signing_key_for_tests()
    head_body = f"{b64({'alg': 'RS256', 'kid': key.kid, 'typ': 'at+jwt', **header})}.{b64(body)}"
    signature = key.private_key.sign(head_body.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head_body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def raw(header: dict, body) -> str:
    return f"{b64(header)}.{b64(body)}."


@pytest.fixture
def verifier():
    return TokenVerifier(ServiceSettings(kam_jwks_json=jwks_json_for_tests()))


async def test_a_token_as_team_svc_issues_it_passes(verifier):
    principal = await verifier.verify(signed(claims(role="manager")))
    assert principal.role == "manager"
    near = int(time.time()) + 20  # a clock a little ahead: within the leeway
    assert (await verifier.verify(signed(claims(iat=near, nbf=near)))).role == "rep"


BAD = {
    "wrong iss": lambda: signed(claims(iss="other")),
    "wrong aud": lambda: signed(claims(aud="other")),
    "expired a second ago": lambda: signed(claims(exp=int(time.time()) - 1)),
    "nbf in the future": lambda: signed(claims(nbf=int(time.time()) + 120)),
    "iat in the future": lambda: signed(claims(iat=int(time.time()) + 120)),
    "string exp": lambda: signed(claims(exp=str(int(time.time()) + 600))),
    "string nbf": lambda: signed(claims(nbf="0")),
    "bool iat": lambda: signed(claims(iat=True)),
    "missing iat": lambda: signed(claims(iat=...)),
    "missing sub": lambda: signed(claims(sub=...)),
    "missing aud": lambda: signed(claims(aud=...)),
    "sub a number": lambda: signed(claims(sub=7)),
    "sub not a uuid": lambda: signed(claims(sub="root")),
    "role a list": lambda: signed(claims(role=["admin"])),
    "iss a list": lambda: signed(claims(iss=["kam-team-svc"])),
    "aud a dict": lambda: signed(claims(aud={"kam": 1})),
    "email a number": lambda: signed(claims(email=1)),
    "pwd_change a string": lambda: signed(claims(pwd_change="false")),
    "payload a list": lambda: signed([1]),
    "payload null": lambda: signed(None),
    "typ JWT": lambda: signed(claims(), typ="JWT"),
    "kid a list": lambda: signed(claims(), kid=["x"]),
    "kid missing": lambda: jwt.encode(claims(), signing_key_for_tests().private_key, algorithm="RS256",
                                      headers={"typ": "at+jwt"}),
    "kid a number": lambda: signed(claims(), kid=7),
    "unknown kid": lambda: signed(claims(), key=SigningKey.generate()),
    "alg none": lambda: raw({"alg": "none", "typ": "at+jwt", "kid": signing_key_for_tests().kid}, claims()),
    "alg HS256": lambda: raw({"alg": "HS256", "typ": "at+jwt", "kid": signing_key_for_tests().kid}, claims()),
    "header a list": lambda: "WzFd." + signed(claims()).split(".", 1)[1],
    "garbage": lambda: "a.b.c",
    "empty": lambda: "",
}


@pytest.mark.parametrize("case", list(BAD))
async def test_every_bad_token_is_unauthorized(verifier, case):
    with pytest.raises(Unauthorized):
        await verifier.verify(BAD[case]())
