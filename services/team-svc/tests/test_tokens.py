"""The token endpoint's two grants over HTTP (issue 13, item 1): short access tokens, rotating refresh
tokens stored hashed, reuse revoking the whole sign-in, revocation on deactivation, password change,
reset and by an admin."""
import asyncio
import datetime as dt
import hashlib
import uuid

import jwt
import pytest
from sqlalchemy import select, update

from team_svc.auth.models import refresh_tokens

PASSWORD = "lamp-tiger-7"
TOKEN = "/v1/auth/token"


async def sign_in(api, email, password=PASSWORD) -> dict:
    resp = await api.client.post(TOKEN, data={"grant_type": "password", "username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def refresh(api, token):
    return await api.client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})


def bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def refused(resp, problem, mentions: str) -> dict:
    body = problem(resp, 401, mentions)
    assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert resp.headers["cache-control"] == "no-store"
    return body


async def test_password_grant_gives_a_15_minute_access_token_and_a_refresh_token_stored_only_hashed(api):
    rep = await api.user("rep")
    resp = await api.client.post(TOKEN, data={"username": rep["email"], "password": PASSWORD})  # grant defaults
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    pair = resp.json()
    assert pair["expires_in"] == 900 and pair["refresh_expires_in"] == 14 * 86400 and pair["token_type"] == "bearer"
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(pair["access_token"])["typ"] == "at+jwt"
    async with api.runtime.db.session() as session:
        rows = (await session.execute(select(refresh_tokens).where(
            refresh_tokens.c.user_id == uuid.UUID(rep["id"])))).mappings().all()
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(pair["refresh_token"].encode()).hexdigest()]
    assert pair["refresh_token"] not in str([dict(r) for r in rows])


async def test_refresh_rotates_and_a_reused_token_revokes_the_whole_family_but_not_other_sign_ins(api, problem):
    rep = await api.user("rep")
    first = await sign_in(api, rep["email"])
    other_device = await sign_in(api, rep["email"])
    resp = await refresh(api, first["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert (await api.client.get(f"/v1/users/{rep['id']}", headers=bearer(second))).status_code == 200
    third = (await refresh(api, second["refresh_token"])).json()

    # The first token again: someone replays it. Every token of that sign-in ends, the newest included.
    body = refused(await refresh(api, first["refresh_token"]), problem, "already used")
    assert body["reason"] == "reused" and body["field"] == "refresh_token"
    refused(await refresh(api, third["refresh_token"]), problem, "revoked")
    # The other sign-in (another device) is a family of its own and goes on.
    assert (await refresh(api, other_device["refresh_token"])).status_code == 200


async def test_refresh_gives_the_users_current_role(api):
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    current = (await api.client.get(f"/v1/users/{rep['id']}", headers=await api.admin())).json()
    promoted = await api.client.patch(f"/v1/users/{rep['id']}", headers={**await api.admin(),
                                      "If-Match": f'"{current["version"]}"'}, json={"role": "manager"})
    assert promoted.status_code == 200, promoted.text
    new = (await refresh(api, pair["refresh_token"])).json()
    assert jwt.decode(new["access_token"], options={"verify_signature": False})["role"] == "manager"


async def test_deactivation_revokes_the_refresh_tokens(api, problem):
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    resp = await api.client.patch(f"/v1/users/{rep['id']}", headers={**await api.admin(), "If-Match": '"1"'},
                                  json={"active": False})
    assert resp.status_code == 200, resp.text
    refused(await refresh(api, pair["refresh_token"]), problem, "revoked")
    refused(await api.client.get(f"/v1/users/{rep['id']}", headers=bearer(pair)), problem, "deactivated")


async def test_a_password_change_revokes_every_refresh_token_of_the_user(api, problem):
    rep = await api.user("rep")
    laptop, phone = await sign_in(api, rep["email"]), await sign_in(api, rep["email"])
    resp = await api.client.post("/v1/users/me/password", headers=bearer(laptop),
                                 json={"current_password": PASSWORD, "new_password": "orbit-lamp-tiger-42"})
    assert resp.status_code == 204, resp.text
    for device in (laptop, phone):
        refused(await refresh(api, device["refresh_token"]), problem, "revoked")
    assert (await refresh(api, (await sign_in(api, rep["email"], "orbit-lamp-tiger-42"))["refresh_token"])
            ).status_code == 200


async def test_an_admin_reset_revokes_and_the_temporary_sign_in_gets_no_refresh_token(api, problem):
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    reset = await api.client.post(f"/v1/users/{rep['id']}/password-reset", headers=await api.admin())
    assert reset.status_code == 200, reset.text
    refused(await refresh(api, pair["refresh_token"]), problem, "revoked")
    temporary = await sign_in(api, rep["email"], reset.json()["temporary_password"])
    assert temporary["refresh_token"] is None and temporary["refresh_expires_in"] is None


async def test_an_admin_revokes_a_users_sessions(api, problem):
    rep, other = await api.user("rep"), await api.user("rep")
    pair, kept = await sign_in(api, rep["email"]), await sign_in(api, other["email"])
    for who in (bearer(pair), bearer(kept)):  # a rep may not, not even their own
        problem(await api.client.post(f"/v1/users/{rep['id']}/revoke-sessions", headers=who), 403, "admin")
    problem(await api.client.post(f"/v1/users/{uuid.uuid4()}/revoke-sessions", headers=await api.admin()),
            404, "not found")
    resp = await api.client.post(f"/v1/users/{rep['id']}/revoke-sessions", headers=await api.admin())
    assert resp.status_code == 200 and resp.json() == {"user_id": rep["id"], "revoked_sessions": 1}
    refused(await refresh(api, pair["refresh_token"]), problem, "revoked")
    assert (await refresh(api, kept["refresh_token"])).status_code == 200


async def test_bad_refresh_requests_are_401_or_422_and_write_nothing(api, problem):
    before = await api.snapshot(refresh_tokens)
    for token in ("not-a-token", "x" * 200, "é\u2028", jwt.encode({"sub": "1"}, "k" * 32, algorithm="HS256")):
        body = refused(await refresh(api, token), problem, "not a valid refresh token")
        assert body["reason"] == "unknown"
    problem(await api.client.post(TOKEN, data={"grant_type": "refresh_token"}), 422, "refresh_token")
    problem(await api.client.post(TOKEN, data={"grant_type": "client_credentials"}), 422, "grant_type")
    problem(await api.client.post(TOKEN, data={"grant_type": "password", "username": "a@b.c"}), 422, "password")
    problem(await api.client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": "x" * 201}), 422,
            "refresh_token")
    assert await api.snapshot(refresh_tokens) == before


async def test_an_expired_refresh_token_is_refused(api, problem):
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    async with api.runtime.db.session() as session, session.begin():
        await session.execute(update(refresh_tokens).where(refresh_tokens.c.user_id == uuid.UUID(rep["id"]))
                              .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    refused(await refresh(api, pair["refresh_token"]), problem, "expired")


async def test_two_refreshes_racing_with_one_token_cannot_both_win(api):
    if api.runtime.db.sqlite:
        pytest.skip("row locks (FOR UPDATE) are PostgreSQL's; SQLite has one writer anyway")
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    answers = await asyncio.gather(*[refresh(api, pair["refresh_token"]) for _ in range(4)])
    assert sorted(r.status_code for r in answers) == [200, 401, 401, 401], [r.text for r in answers]


async def test_revocation_signs_out_the_whole_sign_in_and_says_nothing_about_unknown_tokens(api, problem):
    """RFC 7009, the console's sign-out: the refresh token and its whole rotation end; another sign-in
    of the same user goes on; an unknown token is answered the same 200."""
    rep = await api.user("rep")
    pair = await sign_in(api, rep["email"])
    other_device = await sign_in(api, rep["email"])
    rotated = (await refresh(api, pair["refresh_token"])).json()
    resp = await api.client.post("/v1/auth/revoke", data={"token": rotated["refresh_token"],
                                                          "token_type_hint": "refresh_token"})
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    refused(await refresh(api, rotated["refresh_token"]), problem, "refresh")
    assert (await refresh(api, other_device["refresh_token"])).status_code == 200
    unknown = await api.client.post("/v1/auth/revoke", data={"token": "not-a-token-we-issued"})
    assert unknown.status_code == 200 and unknown.content == b""
    body = problem(await api.client.post("/v1/auth/revoke", data={"token": pair["access_token"][:200],
                                                                  "token_type_hint": "access_token"}),
                   422, "access tokens")
    assert body["reason"] == "unsupported_token_type" and body["field"] == "token_type_hint"
    problem(await api.client.post("/v1/auth/revoke", data={}), 422, "token")
