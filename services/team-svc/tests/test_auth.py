"""Auth hardening over HTTP: key rotation (JWKS with kids, old keys kept until their tokens
expire, several replicas on one database), sign-in rate limits, argon2 re-hashing."""
import asyncio
import contextlib
import datetime as dt
import threading
import time
import uuid

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, event, insert, select, update

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
    """Moves every throttle row back in time (the throttle reads the real clock). The replica's
    memory of blocks saw the real clock: it forgets them, so the next attempts ask the database."""
    api.runtime.signin_blocks.clear()
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
        await _forget_every_failure(api)


async def _forget_every_failure(api) -> None:
    """No test's failures slow the next test (they all sign in from the same test address)."""
    async with api.runtime.db.session() as session, session.begin():
        await session.execute(delete(signin_throttle))
    if api.runtime.signin_blocks is not None:
        api.runtime.signin_blocks.clear()


@contextlib.contextmanager
def sign_in_statements(api):
    """The SQL statements sign-in runs (throttle and credentials) while the block is open."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "signin_throttle" in statement or "password_hash" in statement:
            seen.append(statement)

    engine = api.runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _throttle_rows(api) -> list[dict]:
    async with api.runtime.db.session() as session:
        return [dict(r) for r in (await session.execute(select(signin_throttle).order_by(signin_throttle.c.key))
                                  ).mappings().all()]


@pytest.fixture
async def tight(api):
    """3 free failures per (account, address); tarpit off unless a test turns it on."""
    settings = api.runtime.settings
    names = ("kam_signin_account_free_failures", "kam_signin_base_delay_s", "kam_signin_memory_s",
             "kam_signin_tarpit_after", "kam_signin_tarpit_s", "kam_signin_tarpit_max_held")
    saved = {n: getattr(settings, n) for n in names}
    settings.kam_signin_account_free_failures, settings.kam_signin_tarpit_s = 3, 0.0
    await _forget_every_failure(api)
    try:
        yield settings
    finally:
        for n, value in saved.items():
            setattr(settings, n, value)
        await _forget_every_failure(api)


async def test_a_blocked_attempt_is_answered_from_memory_without_the_database_until_the_record_lapses(
        api, tight, problem):
    rep, other = await api.user("rep"), await api.user("rep")
    token, wrong, right = "/v1/auth/token", {"username": rep["email"], "password": "nope"}, \
        {"username": rep["email"], "password": "lamp-tiger-7"}
    for _ in range(3):  # the third failure blocks the pair for 2 s (in the database, and remembered)
        problem(await api.client.post(token, data=wrong), 401, "wrong email or password")
    rows = await _throttle_rows(api)
    with sign_in_statements(api) as statements:
        for data in (wrong, wrong, right):
            refused = await api.client.post(token, data=data)
            body = problem(refused, 429, "failed sign-ins for this account from this address")
            assert refused.headers["retry-after"] in ("1", "2") and body["retry_after"] in (1, 2)
    assert statements == [] and await _throttle_rows(api) == rows  # not one query, nothing written
    # The same memory never refuses anyone the database would not: another account from this address.
    with sign_in_statements(api) as statements:
        assert (await api.client.post(token, data={"username": other["email"], "password": "lamp-tiger-7"})
                ).status_code == 200
    assert statements
    # The block ends: the next attempt goes to the database again (and its password is checked).
    await asyncio.sleep(int(refused.headers["retry-after"]) + 0.1)
    tight.kam_signin_memory_s = 0.3
    with sign_in_statements(api) as statements:
        problem(await api.client.post(token, data=wrong), 401, "wrong")  # the 4th failure: 4 s
    assert statements
    # A record is trusted for KAM_SIGNIN_MEMORY_S at most: then the database is asked (and still blocks).
    await asyncio.sleep(0.4)
    with sign_in_statements(api) as statements:
        problem(await api.client.post(token, data=right), 429, "for this account")
    assert any("signin_throttle" in s for s in statements)
    with sign_in_statements(api) as statements:  # ... and what it said is remembered again
        problem(await api.client.post(token, data=right), 429, "for this account")
    assert statements == []


async def test_an_address_that_keeps_hammering_a_blocked_account_is_held_a_bounded_number_at_a_time(
        api, tight, problem):
    tight.kam_signin_base_delay_s = 30  # a 60 s block: every hold below fits inside it
    tight.kam_signin_tarpit_after, tight.kam_signin_tarpit_s, tight.kam_signin_tarpit_max_held = 2, 2.0, 1
    rep = await api.user("rep")
    wrong = {"username": rep["email"], "password": "nope"}

    async def timed():
        began = time.monotonic()
        resp = await api.client.post("/v1/auth/token", data=wrong)
        return resp, time.monotonic() - began

    for _ in range(3):
        problem(await api.client.post("/v1/auth/token", data=wrong), 401, "wrong")
    for _ in range(2):  # a person retrying once or twice is answered at once
        resp, took = await timed()
        assert resp.status_code == 429 and took < 1.5
    # Hammering on: one answer is held (the bound is 1 here), the others are answered at once.
    answers = await asyncio.gather(*[timed() for _ in range(3)])
    took = sorted(t for _, t in answers)
    assert took[-1] >= 1.9 and took[1] < 1.5, took
    for resp, _ in answers:
        body = problem(resp, 429, "for this account from this address")
        assert 50 <= int(resp.headers["retry-after"]) <= 60 and body["retry_after"] == int(resp.headers["retry-after"])
    assert api.runtime.signin_blocks.held == 0


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
    while gate.free:  # the busy hash holds the one slot
        await asyncio.sleep(0.01)
    try:
        with pytest.raises(TooManyRequests) as refused:
            await gate.run(lambda: True)
        assert refused.value.extra["headers"] == {"Retry-After": "1"}
    finally:
        release.set()
        await busy
    assert await gate.run(lambda: "free again") == "free again"


async def test_a_held_attempt_whose_wait_ends_meanwhile_goes_to_the_database(api, tight, problem):
    """Held until the block ends (sooner than the tarpit's 10 s), then checked like any attempt."""
    tight.kam_signin_tarpit_after, tight.kam_signin_tarpit_s = 0, 10.0
    rep = await api.user("rep")
    wrong = {"username": rep["email"], "password": "nope"}
    for _ in range(3):  # the third failure: the pair waits 2 s
        problem(await api.client.post("/v1/auth/token", data=wrong), 401, "wrong")
    began = time.monotonic()
    problem(await api.client.post("/v1/auth/token", data=wrong), 401, "wrong email or password")
    assert 0.5 <= time.monotonic() - began < 8
    assert api.runtime.signin_blocks.held == 0


async def test_the_hash_gate_takes_turns_between_addresses_and_no_address_holds_every_slot():
    """The owner's check waits behind at most one of the attacker's queued checks, not all of them;
    with 2 slots the attacker's address runs one hash at a time and the owner's starts at once."""
    gate = HashGate(1, queue_timeout_s=60)
    release, order = threading.Event(), []
    busy = asyncio.create_task(gate.run(release.wait, 60, key="attacker"))
    while gate.free:
        await asyncio.sleep(0.01)
    queued = [asyncio.create_task(gate.run(order.append, f"guess{n}", key="attacker")) for n in range(5)]
    while len(gate.waiting.get("attacker", ())) < 5:
        await asyncio.sleep(0.01)
    owner = asyncio.create_task(gate.run(order.append, "owner", key="owner"))
    while "owner" not in gate.waiting:
        await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(busy, owner, *queued)
    assert order[:2] == ["guess0", "owner"] and sorted(order[2:]) == [f"guess{n}" for n in range(1, 5)]
    assert gate.free == 1 and not gate.waiting and not gate.running

    gate, release = HashGate(2, queue_timeout_s=60), threading.Event()
    guesses = [asyncio.create_task(gate.run(release.wait, 60, key="attacker")) for _ in range(3)]
    while len(gate.waiting.get("attacker", ())) < 2:
        await asyncio.sleep(0.01)
    assert gate.running == {"attacker": 1} and gate.free == 1  # the second slot stays free ...
    assert await gate.run(lambda: "in at once", key="owner") == "in at once"  # ... for another address
    release.set()
    assert await asyncio.gather(*guesses) == [True] * 3
    assert gate.free == 2 and not gate.running


async def test_attempts_for_one_key_take_turns_and_other_keys_do_not_wait():
    from team_svc.auth.blocks import Turns

    turns, inside, peak, order = Turns(), [0], [0], []

    async def attempt(address: str, pair: str, name: str):
        async with turns.turn(address, pair):
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            order.append(name)
            await asyncio.sleep(0.05)
            inside[0] -= 1

    await asyncio.gather(*[attempt("attacker", "attacker+owner@x", f"a{n}") for n in range(4)])
    assert peak[0] == 1 and order == ["a0", "a1", "a2", "a3"] and len(turns) == 0  # one at a time, in order
    peak[0] = 0
    await asyncio.gather(attempt("attacker", "attacker+owner@x", "a"), attempt("owner", "owner+owner@x", "o"))
    assert peak[0] == 2  # the owner's address never waits for the attacker's turn
    # A waiter that gives up (its request cancelled) leaves nothing behind.
    holder = asyncio.create_task(attempt("attacker", "p", "holder"))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(attempt("attacker", "p", "waiter"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(turns) == 0
