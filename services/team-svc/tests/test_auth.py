"""Auth hardening over HTTP: key rotation (JWKS with kids, old keys kept until their tokens
expire, several replicas on one database), sign-in rate limits, argon2 re-hashing."""
import asyncio
import datetime as dt
import threading
import time
import uuid

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, insert, select, update

from kam_shared.domain_errors import TooManyRequests
from team_svc.auth.models import signin_throttle, signing_keys
from team_svc.auth.passwords import HashGate
from team_svc.common.models import users
from team_svc.main import create_app


async def fresh_token(api, email, password="lamp-tiger-7"):
    resp = await api.client.post("/v1/auth/token", data={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def kid(token):
    return jwt.get_unverified_header(token)["kid"]


async def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_until_its_tokens_expire(api, problem):
    admin = await api.admin()
    rep = await api.user("rep")
    old_token = await fresh_token(api, rep["email"])
    problem(await api.client.post("/v1/auth/keys/rotate", headers=await api.auth(rep)), 403, "admin")
    before = await api.outbox_count()
    rotated = await api.client.post("/v1/auth/keys/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    assert body["previous_kid"] == kid(old_token) and body["kid"] != body["previous_kid"]
    [(event_type, event)] = await api.events_since(before)
    assert event_type == "kam.team.signing_key_rotated.v1" and event["data"]["kid"] == body["kid"]

    jwks = (await api.client.get("/.well-known/jwks.json")).json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids[0] == body["kid"] and kid(old_token) in kids
    # The token signed before the rotation still works; new tokens carry the new kid.
    assert (await api.client.get(f"/v1/users/{rep['id']}", headers={"Authorization": f"Bearer {old_token}"})
            ).status_code == 200
    new_token = await fresh_token(api, rep["email"])
    assert kid(new_token) == body["kid"]
    listing = {k["kid"]: k for k in (await api.client.get("/v1/auth/keys", headers=admin)).json()}
    assert listing[body["kid"]]["status"] == "signing"
    old = listing[kid(old_token)]
    assert old["status"] == "verifying"
    lifetime = dt.timedelta(seconds=api.runtime.settings.kam_token_lifetime_s)
    assert dt.datetime.fromisoformat(old["valid_until"]) - dt.datetime.fromisoformat(old["superseded_at"]) >= lifetime

    # Once its last token has expired the old key leaves the JWKS, and the next rotation erases it.
    async with api.runtime.db.session() as session, session.begin():
        await session.execute(update(signing_keys).where(signing_keys.c.kid == kid(old_token)).values(
            valid_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert kid(old_token) not in [k["kid"] for k in (await api.client.get("/.well-known/jwks.json")).json()["keys"]]
    await api.client.post("/v1/auth/keys/rotate", headers=admin)
    async with api.runtime.db.session() as session:
        assert await session.scalar(select(signing_keys.c.private_pem).where(
            signing_keys.c.kid == kid(old_token))) is None


async def test_a_second_replica_on_the_same_database_shares_the_key_ring(api, tmp_path):
    """Rotation on one replica: the other signs with the new key and verifies its tokens (it looks
    the unknown kid up in the shared ring); starting it with the same key file adds no key."""
    settings = api.runtime.settings.model_copy()
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://replica-2") as other:
            async with api.runtime.db.session() as session:
                keys_before = len((await session.execute(select(signing_keys.c.kid))).all())
            rep = await api.user("rep")
            rotated = (await api.client.post("/v1/auth/keys/rotate", headers=await api.admin())).json()
            token = (await other.post("/v1/auth/token",
                                      data={"username": rep["email"], "password": "lamp-tiger-7"})).json()
            assert kid(token["access_token"]) == rotated["kid"]
            on_first = await api.client.get(f"/v1/users/{rep['id']}",
                                            headers={"Authorization": f"Bearer {token['access_token']}"})
            assert on_first.status_code == 200
            async with api.runtime.db.session() as session:
                assert len((await session.execute(select(signing_keys.c.kid))).all()) == keys_before + 1


async def _time_passes(api, seconds: float) -> None:
    """Moves every throttle row back in time (the throttle reads the real clock)."""
    shift = dt.timedelta(seconds=seconds)
    async with api.runtime.db.session() as session, session.begin():
        for row in (await session.execute(select(signin_throttle))).mappings().all():
            await session.execute(update(signin_throttle).where(signin_throttle.c.key == row["key"]).values(
                blocked_until=row["blocked_until"] and row["blocked_until"] - shift,
                last_attempt_at=row["last_attempt_at"] - shift))


async def test_sign_in_failures_slow_the_account_from_that_address_and_the_address_with_growing_delays(api, problem):
    rep, other = await api.user("rep"), await api.user("rep")
    settings = api.runtime.settings
    saved = settings.kam_signin_account_free_failures, settings.kam_signin_address_free_failures
    settings.kam_signin_account_free_failures, settings.kam_signin_address_free_failures = 3, 8
    async with api.runtime.db.session() as session, session.begin():
        await session.execute(delete(signin_throttle))
    token = "/v1/auth/token"
    try:
        for _ in range(3):
            problem(await api.client.post(token, data={"username": rep["email"], "password": "nope"}), 401,
                    "wrong email or password")
        # The third failure makes the next attempt from this address wait 2 s, the right password included.
        waiting = await api.client.post(token, data={"username": rep["email"], "password": "lamp-tiger-7"})
        body = problem(waiting, 429, "failed sign-ins for this account from this address")
        assert waiting.headers["retry-after"] in ("1", "2") and body["retry_after"] in (1, 2)
        assert (await api.client.post(token, data={"username": other["email"], "password": "lamp-tiger-7"})
                ).status_code == 200
        await _time_passes(api, 2)
        problem(await api.client.post(token, data={"username": rep["email"], "password": "nope"}), 401, "wrong")
        grown = await api.client.post(token, data={"username": rep["email"], "password": "lamp-tiger-7"})
        assert grown.status_code == 429 and int(grown.headers["retry-after"]) in (3, 4)  # 2 s, then 4 s
        await _time_passes(api, 4)
        assert (await api.client.post(token, data={"username": rep["email"], "password": "lamp-tiger-7"})
                ).status_code == 200
        # A success clears the account's failures from this address: 3 more are free again.
        for _ in range(2):
            await api.client.post(token, data={"username": rep["email"], "password": "nope"})
        assert (await api.client.post(token, data={"username": rep["email"], "password": "lamp-tiger-7"})
                ).status_code == 200
        # Per address: failures against any accounts (unknown ones too) add up, then the address waits.
        for n in range(8):
            await api.client.post(token, data={"username": f"ghost{n}@example.com", "password": "x"})
        blocked = await api.client.post(token, data={"username": other["email"], "password": "lamp-tiger-7"})
        problem(blocked, 429, "from this address")
        assert 1 <= int(blocked.headers["retry-after"]) <= 2**3
    finally:
        settings.kam_signin_account_free_failures, settings.kam_signin_address_free_failures = saved
        async with api.runtime.db.session() as session, session.begin():
            await session.execute(delete(signin_throttle))


async def test_throttle_rows_nobody_touched_for_the_forget_period_are_pruned(api):
    stale, recent = "0" * 64, "1" * 64
    now = dt.datetime.now(dt.UTC)
    async with api.runtime.db.session() as session, session.begin():
        await session.execute(delete(signin_throttle).where(signin_throttle.c.key.in_([stale, recent])))
        await session.execute(insert(signin_throttle), [
            dict(key=stale, scope="address", failures=9, blocked_until=None,
                 last_attempt_at=now - dt.timedelta(days=2)),
            dict(key=recent, scope="address", failures=9, blocked_until=None, last_attempt_at=now)])
    api.runtime.signin_throttle_pruned_at = 0.0  # this replica has not pruned for a while
    await api.client.post("/v1/auth/token", data={"username": "ghost.prune@example.com", "password": "x"})
    async with api.runtime.db.session() as session:
        left = set((await session.execute(select(signin_throttle.c.key).where(
            signin_throttle.c.key.in_([stale, recent])))).scalars())
    assert left == {recent}


async def test_token_response_is_never_cached(api):
    rep = await api.user("rep")
    resp = await api.client.post("/v1/auth/token", data={"username": rep["email"], "password": "lamp-tiger-7"})
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"


async def test_passwords_are_argon2_and_are_rehashed_when_the_cost_goes_up(api):
    rep = await api.user("rep")
    async with api.runtime.db.session() as session:
        stored = await session.scalar(select(users.c.password_hash).where(users.c.id == uuid.UUID(rep["id"])))
    assert stored.startswith("$argon2id$") and "t=1" in stored and "lamp-tiger-7" not in stored
    saved = api.runtime.password_hasher
    api.runtime.password_hasher = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    try:
        await fresh_token(api, rep["email"])
        async with api.runtime.db.session() as session:
            rehashed = await session.scalar(select(users.c.password_hash).where(users.c.id == uuid.UUID(rep["id"])))
        assert rehashed != stored and "t=2" in rehashed
        await fresh_token(api, rep["email"])  # the new hash verifies
    finally:
        api.runtime.password_hasher = saved


async def test_verified_tokens_are_remembered_only_until_they_expire():
    import time

    import pytest

    from kam_shared.auth import SigningKey
    from kam_shared.errors import Unauthorized
    from kam_shared.settings import ServiceSettings
    from team_svc.auth.keyring import KeyRingVerifier

    key = SigningKey.generate()

    class Ring:
        async def published(self):
            return [key.jwk()]

    verifier = KeyRingVerifier(ServiceSettings(kam_jwks_json=""), Ring())
    token = key.issue(user_id=uuid.uuid4(), email="a@b.c", role="rep", issuer="kam-team-svc", audience="kam",
                      lifetime_s=60)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # remembered
    # A remembered entry past its expiry is not trusted: the token is checked again (and this one fails).
    verifier._verified["not.a.token"] = (first, time.time() - 1)
    with pytest.raises(Unauthorized):
        await verifier.verify("not.a.token")
    forged = SigningKey.generate().issue(user_id=uuid.uuid4(), email="x@y.z", role="admin", issuer="kam-team-svc",
                                         audience="kam", lifetime_s=60)
    with pytest.raises(Unauthorized, match="known key"):
        await verifier.verify(forged)


async def test_argon2_runs_at_most_the_configured_number_of_hashes_at_once():
    gate = HashGate(2, queue_timeout_s=60)
    running, peak, lock, release = [0], [0], threading.Lock(), threading.Event()

    def hash_like() -> bool:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(60)
        with lock:
            running[0] -= 1
        return True

    jobs = [asyncio.create_task(gate.run(hash_like)) for _ in range(6)]
    deadline = time.monotonic() + 60
    while running[0] < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert running[0] == 2
    release.set()
    assert await asyncio.gather(*jobs) == [True] * 6
    assert peak[0] == 2


async def test_a_sign_in_that_waits_too_long_for_a_hash_gets_429_with_retry_after():
    gate = HashGate(1, queue_timeout_s=0.2)
    release = threading.Event()
    busy = asyncio.create_task(gate.run(release.wait, 60))
    while not gate.admitted.locked():  # the busy hash holds the one slot
        await asyncio.sleep(0.01)
    try:
        with pytest.raises(TooManyRequests) as refused:
            await gate.run(lambda: True)
        assert refused.value.extra["headers"] == {"Retry-After": "1"}
    finally:
        release.set()
        await busy
    assert await gate.run(lambda: "free again") == "free again"
