"""Sign-in abuse against real team-svc processes (issue 13, item 4).

Distinct client addresses are real: each client binds its socket to its own loopback address
(127.0.0.2, 127.0.0.3, …), so team-svc sees a different peer exactly as it would across a
network, and no header is involved unless a test sends one.

Two team-svc replicas run on one database (the throttle is shared through it), with small
settings (3 free failures per account and address, 8 per address) and 127.0.0.9 as the one
trusted proxy. The broker is the session stack's.

Delays there are 60x the default (2 min, 4 min, …), so that a busy machine's slowness never
lets a wait run out in the middle of a test; where a test needs a wait to be over, it moves the
throttle rows back in time in the replicas' database instead of sleeping. Each replica trusts its
memory of a block for 1 s only (KAM_SIGNIN_MEMORY_S) and then asks the database again, so moving
time in the database is followed by a 1 s pause; held 429s (the tarpit) last 0.5 s.
"""
import asyncio
import datetime as dt
import time
import uuid

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.devstack import Stack, free_port, stack_database_urls
from team_svc.auth.models import signin_throttle

PASSWORD = "lamp-tiger-7"
PROXY = "127.0.0.9"
BASE_DELAY_S = 60
MEMORY_S = 1
_next_address = iter(range(10, 250))


def address() -> str:
    """A loopback address no other test in this module uses."""
    return f"127.0.0.{next(_next_address)}"


def client(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60)


def replica_stack(stack, urls, log_dir, **env) -> Stack:
    return Stack(database_urls=urls, ports={"team-svc": free_port()}, bootstrap=stack.bootstrap,
                 services=["team-svc"], log_dir=log_dir,
                 extra_env={**(stack.broker.client_env() if stack.broker else {}), **env})


@pytest.fixture(scope="module")
def replicas(stack, tmp_path_factory):
    urls, cleanup = stack_database_urls("signin")
    log_dir = tmp_path_factory.mktemp("signin-logs")
    env = {"KAM_SIGNIN_ACCOUNT_FREE_FAILURES": "3", "KAM_SIGNIN_ADDRESS_FREE_FAILURES": "8",
           "KAM_SIGNIN_BASE_DELAY_S": str(BASE_DELAY_S), "KAM_TRUSTED_PROXIES": f"{PROXY}/32",
           "KAM_SIGNIN_MEMORY_S": str(MEMORY_S), "KAM_SIGNIN_TARPIT_S": "0.5"}
    started: list[Stack] = []
    try:
        for n in range(2):  # one after the other: the first applies the migrations
            started.append(replica_stack(stack, urls, log_dir / f"replica-{n}", **env).start())
        yield [s.url("team-svc") for s in started], urls["team-svc"]
    finally:
        for s in started:
            s.stop()
        cleanup()


def time_passes(database_url: str, seconds: float) -> None:
    """Every throttle row `seconds` older, as if that much time had passed."""
    async def shift() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                for row in (await conn.execute(select(signin_throttle))).mappings().all():
                    by = dt.timedelta(seconds=seconds)
                    await conn.execute(update(signin_throttle).where(signin_throttle.c.key == row["key"]).values(
                        blocked_until=row["blocked_until"] and row["blocked_until"] - by,
                        last_attempt_at=row["last_attempt_at"] - by))
        finally:
            await engine.dispose()

    asyncio.run(shift())
    # The replicas remember blocks as of the real clock; after MEMORY_S they ask the database again.
    time.sleep(MEMORY_S)


def sign_in(base: str, email: str, password: str, source: str = "127.0.0.1", **headers) -> httpx.Response:
    with client(source) as http:
        return http.post(f"{base}/v1/auth/token", data={"username": email, "password": password}, headers=headers)


def bearer(resp: httpx.Response) -> dict:
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def admin(base: str) -> dict:
    return bearer(sign_in(base, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD))


def new_user(base: str, role: str = "rep", **extra) -> dict:
    email = f"{role}.{uuid.uuid4().hex[:8]}@signin.test"
    resp = httpx.post(f"{base}/v1/users", headers=admin(base), timeout=60,
                      json={"email": email, "name": "Signin User", "role": role, "password": PASSWORD, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def problem(resp: httpx.Response, status: int, mentions: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert mentions in f"{body['detail']} {body.get('field')} {body.get('reason')}", body
    return body


def fail_until_throttled(base: str, email: str, source: str, limit: int = 10, **headers) -> httpx.Response:
    for _ in range(limit):
        resp = sign_in(base, email, "wrong-password", source, **headers)
        if resp.status_code == 429:
            return resp
        problem(resp, 401, "wrong email or password")
    raise AssertionError(f"no 429 after {limit} wrong passwords")


# ------------------------------------------------------------------------------ throttling


def test_an_attacker_from_one_address_cannot_lock_out_the_user_signing_in_from_another(replicas):
    base = replicas[0][0]
    user = new_user(base)
    attacker, owner = address(), address()
    throttled = fail_until_throttled(base, user["email"], attacker)
    body = problem(throttled, 429, "for this account from this address")
    assert int(throttled.headers["retry-after"]) >= 1 and body["retry_after"] >= 1
    for _ in range(10):  # the attacker keeps hammering: answered 429 without any password check
        assert sign_in(base, user["email"], "wrong-password", attacker).status_code == 429
    # Even the right password waits, from the attacker's address ...
    assert sign_in(base, user["email"], PASSWORD, attacker).status_code == 429
    # ... but the owner, from their own address, is never locked out.
    ok = sign_in(base, user["email"], PASSWORD, owner)
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"


def test_each_failure_past_the_free_ones_doubles_the_wait(replicas):
    (base, _), database_url = replicas
    user, source = new_user(base), address()
    waits = []
    for _ in range(3):
        resp = fail_until_throttled(base, user["email"], source)
        waits.append(int(resp.headers["retry-after"]))
        time_passes(database_url, waits[-1])  # the wait is over: one more attempt goes through (and fails)
    # 3 free failures, then 2, 4, 8 x the base delay (less the seconds the 429 itself took to answer).
    for wait, full in zip(waits, (2 * BASE_DELAY_S, 4 * BASE_DELAY_S, 8 * BASE_DELAY_S), strict=True):
        assert full - 30 <= wait <= full, waits
    assert sign_in(base, user["email"], PASSWORD, source).status_code == 200  # after the wait, in again


def test_the_throttle_is_shared_by_every_replica_on_the_database(replicas):
    first, second = replicas[0]
    user = new_user(first)
    source = address()
    for _ in range(3):
        problem(sign_in(first, user["email"], "wrong-password", source), 401, "wrong")
    # Replica 2 knows about replica 1's failures: no N x the attempts with N replicas.
    problem(sign_in(second, user["email"], "wrong-password", source), 429, "for this account")
    problem(sign_in(second, user["email"], PASSWORD, source), 429, "for this account")


def test_failures_against_many_accounts_slow_the_address_but_not_the_others(replicas):
    base, sprayer, other = replicas[0][0], address(), address()
    user = new_user(base)
    for n in range(8):  # 8 free failures per address, one per made-up account (each under its own limit)
        problem(sign_in(base, f"ghost{n}.{uuid.uuid4().hex[:6]}@signin.test", "x", sprayer), 401, "wrong")
    problem(sign_in(base, user["email"], PASSWORD, sprayer), 429, "from this address")
    assert sign_in(base, user["email"], PASSWORD, other).status_code == 200


def test_x_forwarded_for_counts_only_when_the_peer_is_a_trusted_proxy(replicas):
    base = replicas[0][0]
    user = new_user(base)
    # Not a proxy: a fresh X-Forwarded-For on every attempt changes nothing, the socket peer is throttled.
    spoofer = address()
    for n in range(3):
        problem(sign_in(base, user["email"], "wrong-password", spoofer, **{"X-Forwarded-For": f"198.51.100.{n}"}),
                401, "wrong")
    problem(sign_in(base, user["email"], PASSWORD, spoofer, **{"X-Forwarded-For": "198.51.100.99"}), 429,
            "for this account from this address")
    # Behind the trusted proxy: the client it forwards for is throttled, other clients of the proxy are not.
    attacker = "203.0.113.5"
    fail_until_throttled(base, user["email"], PROXY, **{"X-Forwarded-For": attacker})
    # Writing another address in front of the one the proxy appended does not help the attacker.
    problem(sign_in(base, user["email"], PASSWORD, PROXY, **{"X-Forwarded-For": f"198.51.100.7, {attacker}"}), 429,
            "for this account")
    assert sign_in(base, user["email"], PASSWORD, PROXY, **{"X-Forwarded-For": "203.0.113.6"}).status_code == 200


# ------------------------------------------------------------------------------ password policy


@pytest.mark.parametrize("password, says", [
    ("1234", "at least 12"),
    ("password", "at least 12"),
    ("password1234", "most common"),
    ("{email}", "email"),
    ("{local}-2026!", "email"),
    ("the signin user", "name"),
])
def test_new_passwords_follow_the_policy_and_nothing_is_written(replicas, password, says):
    base = replicas[0][0]
    headers = admin(base)
    email = f"policy.{uuid.uuid4().hex[:8]}@signin.test"
    candidate = password.format(email=email, local=email.split("@")[0])
    resp = httpx.post(f"{base}/v1/users", headers=headers, timeout=60,
                      json={"email": email, "name": "Signin User", "role": "rep", "password": candidate})
    body = problem(resp, 422, says)
    assert "password" in (body.get("field") or [e["field"] for e in body.get("errors", [])]), body
    listed = httpx.get(f"{base}/v1/users", headers=headers, params={"limit": 1000}, timeout=60).json()["items"]
    assert email not in [u["email"] for u in listed]


# ------------------------------------------------------------------------------ change, reset, forced change


def test_a_user_changes_their_password_with_the_current_one(replicas):
    base, source = replicas[0][0], address()
    user = new_user(base)
    auth = bearer(sign_in(base, user["email"], PASSWORD, source))
    change = f"{base}/v1/users/me/password"
    with client(source) as http:
        problem(http.post(change, headers=auth, json={"current_password": "not-it-at-all", "new_password":
                                                       "violet-harbour-81"}), 422, "current_password")
        problem(http.post(change, headers=auth, json={"current_password": PASSWORD, "new_password": "password1234"}),
                422, "new_password")
        problem(http.post(change, json={"current_password": PASSWORD, "new_password": "violet-harbour-81"}), 401,
                "bearer")
        done = http.post(change, headers=auth, json={"current_password": PASSWORD, "new_password": "violet-harbour-81"})
        assert done.status_code == 204, done.text
    problem(sign_in(base, user["email"], PASSWORD, address()), 401, "wrong email or password")
    assert sign_in(base, user["email"], "violet-harbour-81", address()).status_code == 200


def test_an_admin_reset_gives_a_temporary_password_that_opens_only_the_change_route(replicas):
    base = replicas[0][0]
    user, other = new_user(base), new_user(base)
    peer = bearer(sign_in(base, other["email"], PASSWORD))
    reset = f"{base}/v1/users/{user['id']}/password-reset"
    problem(httpx.post(reset, headers=peer, json={}, timeout=60), 403, "admin")
    problem(httpx.post(reset, headers=admin(base), json={"temporary_password": "short"}, timeout=60), 422,
            "temporary_password")
    resp = httpx.post(reset, headers=admin(base), json={}, timeout=60)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store", resp.text
    temporary = resp.json()["temporary_password"]
    assert resp.json()["must_change_password"] is True and len(temporary) >= 12
    problem(sign_in(base, user["email"], PASSWORD), 401, "wrong email or password")
    restricted = bearer(sign_in(base, user["email"], temporary))
    body = problem(httpx.get(f"{base}/v1/users/{user['id']}", headers=restricted, timeout=60), 403,
                   "password_change_required")
    assert "/v1/users/me/password" in body["detail"]
    done = httpx.post(f"{base}/v1/users/me/password", headers=restricted, timeout=60,
                      json={"current_password": temporary, "new_password": "copper-meadow-55"})
    assert done.status_code == 204, done.text
    fresh = bearer(sign_in(base, user["email"], "copper-meadow-55"))
    assert httpx.get(f"{base}/v1/users/{user['id']}", headers=fresh, timeout=60).status_code == 200


def test_a_restricted_token_is_refused_by_the_other_services_too(stack):
    """account-svc verifies the same token with the shared auth dependency: 403, not a way around."""
    team = stack.url("team-svc")
    user = new_user(team)
    resp = httpx.post(f"{team}/v1/users/{user['id']}/password-reset", headers=admin(team), json={}, timeout=60)
    restricted = bearer(sign_in(team, user["email"], resp.json()["temporary_password"]))
    problem(httpx.get(f"{stack.url('account-svc')}/v1/accounts", headers=restricted, timeout=60), 403,
            "password_change_required")


def test_the_bootstrap_admin_must_change_their_password_at_first_sign_in(stack, tmp_path):
    urls, cleanup = stack_database_urls("signin_bootstrap")
    forced = replica_stack(stack, urls, tmp_path / "logs", KAM_BOOTSTRAP_ADMIN_MUST_CHANGE="true")
    try:
        forced.start()
        base = forced.url("team-svc")
        first = bearer(sign_in(base, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD))
        body = {"email": f"x.{uuid.uuid4().hex[:6]}@signin.test", "name": "X", "role": "rep", "password": PASSWORD}
        problem(httpx.post(f"{base}/v1/users", headers=first, json=body, timeout=60), 403, "password_change_required")
        done = httpx.post(f"{base}/v1/users/me/password", headers=first, timeout=60,
                          json={"current_password": DEV_ADMIN_PASSWORD, "new_password": "granite-sparrow-19"})
        assert done.status_code == 204, done.text
        problem(sign_in(base, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, address()), 401, "wrong email or password")
        admin_now = bearer(sign_in(base, DEV_ADMIN_EMAIL, "granite-sparrow-19"))
        assert httpx.post(f"{base}/v1/users", headers=admin_now, json=body, timeout=60).status_code == 201
        forced.stop()  # a restart does not bring the flag back: the admin exists, so no bootstrap
        forced.start()
        assert httpx.post(f"{base}/v1/users", headers=bearer(sign_in(base, DEV_ADMIN_EMAIL, "granite-sparrow-19")),
                          json={**body, "email": f"y.{uuid.uuid4().hex[:6]}@signin.test"}, timeout=60
                          ).status_code == 201
    finally:
        forced.stop()
        cleanup()
