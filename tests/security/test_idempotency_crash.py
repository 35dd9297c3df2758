"""An Idempotency-Key is a lease (issue 13, item 6), proven with the real failure: opportunity-svc
is killed with SIGKILL while a keyed POST is inside its transaction, restarted, and the client's
retry with the same key is refused while the lease runs, then runs once: one opportunity.

The request is held mid-flight by the database itself, no test hook: the test takes an EXCLUSIVE
lock on the opportunities table (reads pass, the INSERT waits), so the key is claimed and the
write is pending when the process dies. PostgreSQL only (SQLite has no table locks to hold)."""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

LEASE_S = 15


async def _wait_for(read, predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if predicate(value):
            return value
        assert time.monotonic() < deadline, f"condition not met within {timeout}s; last: {value}"
        await asyncio.sleep(0.1)


def _restart(stack, env: dict[str, str]) -> None:
    stack.stop_service("opportunity-svc")
    stack.extra_env.update(env)
    stack.start_service("opportunity-svc")
    stack.wait_ready("opportunity-svc", timeout=300)


async def test_a_key_left_by_a_killed_process_runs_again_after_its_lease_and_creates_once(stack, org):
    url = stack.database_urls["opportunity-svc"]
    if not url.startswith("postgresql"):
        pytest.skip("the request is held with a PostgreSQL table lock")
    api, tokens, ids = org
    admin = tokens["admin"]
    account = api.call("POST", "account-svc", "/v1/accounts", admin, json={"name": f"Lease {uuid.uuid4().hex[:6]}"})
    assert account.status_code == 201, account.text
    name = f"lease-{uuid.uuid4().hex[:8]}"
    body = {"account_id": account.json()["id"], "name": name, "amount": "1000.00", "currency": "CNY",
            "close_date": "2026-12-15", "owner_id": ids["manager"]}
    key = uuid.uuid4().hex
    endpoint = f"{stack.url('opportunity-svc')}/v1/opportunities"
    headers = {**admin, "Idempotency-Key": key}

    def post() -> httpx.Response | Exception:
        try:
            return httpx.post(endpoint, json=body, headers=headers, timeout=120)
        except httpx.HTTPError as exc:
            return exc

    engine = create_async_engine(url)
    try:
        async def claim():
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT status_code, created_at FROM idempotency_keys WHERE key = :k"),
                                           {"k": key})).first()

        async def waiting_on_the_lock():
            async with engine.connect() as conn:
                return (await conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO opportunities%'"))).scalar()

        async with engine.connect() as holder:
            await holder.execute(text("LOCK TABLE opportunities IN EXCLUSIVE MODE"))
            first = asyncio.create_task(asyncio.to_thread(post))
            claimed = await _wait_for(claim, lambda row: row is not None)
            assert claimed.status_code is None  # claimed, not answered
            await _wait_for(waiting_on_the_lock, lambda n: n >= 1)
            process = stack.procs.pop("opportunity-svc")
            process.kill()  # SIGKILL: no finally, no release of the key
            process.wait(timeout=30)
            await holder.rollback()
        assert isinstance(await first, Exception), "the first request should have lost its connection"
        claimed_at = time.monotonic()
        assert (await claim()).status_code is None, "the dead request's key is still claimed"

        await asyncio.to_thread(_restart, stack, {"IDEMPOTENCY_LEASE_S": str(LEASE_S)})
        early = await asyncio.to_thread(post)
        if time.monotonic() - claimed_at < LEASE_S - 3:  # the restart was quicker than the lease
            assert early.status_code == 409 and early.headers["retry-after"] == "1", early.text
            await asyncio.sleep(max(0.0, LEASE_S + 1 - (time.monotonic() - claimed_at)))
            retried = await asyncio.to_thread(post)
        else:
            retried = early
        assert retried.status_code == 201, retried.text
        again = await asyncio.to_thread(post)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == retried.json()["id"]
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM opportunities WHERE name = :n"),
                                        {"n": name})).scalar()
        assert count == 1
    finally:
        await engine.dispose()
        stack.extra_env.pop("IDEMPOTENCY_LEASE_S", None)
        if "opportunity-svc" in stack.procs:  # back to the settings every other test expects
            await asyncio.to_thread(_restart, stack, {})
        else:
            stack.start_service("opportunity-svc")
            await asyncio.to_thread(stack.wait_ready, "opportunity-svc", 300)
