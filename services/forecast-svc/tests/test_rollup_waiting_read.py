"""The waiting read of a roll-up: ETag + If-None-Match (304), and Prefer: wait answering as soon as
an applied event changes the figures, in the replica that applied it and (PostgreSQL) in another
replica of the service woken by NOTIFY."""
import asyncio
import time
import uuid

import pytest

from kam_shared.testing import another_replica, bearer, feed, service_client, user_event

from .conftest import Opportunity

MANAGER, REP, OTHER_REP = (uuid.uuid4() for _ in range(3))


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER),
                   user_event(OTHER_REP, "rep", None))
        yield client


def read(client, headers=None, node=MANAGER, who=MANAGER, role="manager"):
    return client.get("/v1/rollups", params={"node": str(node), "period": "2026-Q4"},
                      headers={**bearer(who, role), **(headers or {})})


async def test_the_etag_names_the_figures_and_if_none_match_answers_304(forecast):
    first = await read(forecast)
    assert first.status_code == 200 and first.headers["ETag"].startswith('W/"')
    again = await read(forecast, {"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"] and not again.content
    # An event elsewhere moves `as_of` but not these figures: still the same tag.
    await feed(forecast.runtime, *Opportunity(OTHER_REP).at_stage(3))
    assert (await read(forecast, {"If-None-Match": first.headers["ETag"]})).status_code == 304
    await feed(forecast.runtime, *Opportunity(REP, amount="500.00").at_stage(2))
    changed = await read(forecast, {"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert changed.json()["open_amount"] != first.json()["open_amount"]


async def test_a_waiting_read_answers_when_the_change_is_applied(forecast):
    opp = Opportunity(REP, amount="700.00")
    await feed(forecast.runtime, opp.created())
    tag = (await read(forecast)).headers["ETag"]
    started = time.monotonic()
    waiting = asyncio.create_task(read(forecast, {"If-None-Match": tag, "Prefer": "wait=15"}))
    await asyncio.sleep(0.5)
    assert not waiting.done()  # nothing changed yet: it waits
    await feed(forecast.runtime, opp.move(4))
    answer = await asyncio.wait_for(waiting, 10)
    assert answer.status_code == 200 and answer.headers["Preference-Applied"] == "wait=15"
    assert answer.headers["ETag"] != tag and time.monotonic() - started < 5
    stage4 = next(s for s in answer.json()["stages"] if s["stage"] == 4)
    assert stage4["count"] >= 1 and stage4["amount"] != "0.00"


async def test_a_wait_with_no_change_ends_in_304_and_a_wait_never_outlives_visibility(forecast):
    tag = (await read(forecast)).headers["ETag"]
    started = time.monotonic()
    quiet = await read(forecast, {"If-None-Match": tag, "Prefer": "wait=1"})
    assert quiet.status_code == 304 and 0.9 <= time.monotonic() - started < 5
    # A rep may not read another rep's node, waiting or not: 404 at once.
    hidden = await read(forecast, {"If-None-Match": tag, "Prefer": "wait=10"}, node=OTHER_REP, who=REP, role="rep")
    assert hidden.status_code == 404 and time.monotonic() - started < 5
    # Without If-None-Match there is nothing to wait for: an ordinary read.
    plain = await read(forecast, {"Prefer": "wait=10"})
    assert plain.status_code == 200 and "Preference-Applied" not in plain.headers


async def test_another_replica_waiting_is_woken_by_the_database(forecast):
    if forecast.runtime.db.sqlite:
        pytest.skip("one process on SQLite: replicas need PostgreSQL (LISTEN/NOTIFY)")
    async with another_replica(forecast, "forecast-svc") as replica:
        tag = (await read(replica)).headers["ETag"]
        # The first waiting read starts the replica's listener; give it a moment to LISTEN.
        assert (await read(replica, {"If-None-Match": tag, "Prefer": "wait=1"})).status_code == 304
        started = time.monotonic()
        waiting = asyncio.create_task(read(replica, {"If-None-Match": tag, "Prefer": "wait=15"}))
        await asyncio.sleep(0.3)
        await feed(forecast.runtime, *Opportunity(REP, amount="900.00").at_stage(6))  # applied by the first
        answer = await asyncio.wait_for(waiting, 10)
        # Woken by NOTIFY, not by the replica's own periodic re-read (RECHECK_S = 5 s).
        assert answer.status_code == 200 and time.monotonic() - started < 3
