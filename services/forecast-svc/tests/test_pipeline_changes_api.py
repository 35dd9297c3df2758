"""forecast-svc: what changed since, and the forecast history, over HTTP from events applied through
the real consumer path (the state history written with the facts and cells)."""
import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.events import utcnow
from kam_shared.testing import bearer, feed, service_client, user_event

BOSS, MGR, REP_A, REP_B, STRANGER = (uuid.uuid4() for _ in range(5))
Q4 = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(BOSS, "manager", None), user_event(MGR, "manager", BOSS),
                   user_event(REP_A, "rep", MGR), user_event(REP_B, "rep", MGR), user_event(STRANGER, "rep", None))
        yield client


async def get(client, path, node, who=None, role="manager", **params):
    return await client.get(path, params={"node": str(node), "period": "2026-Q4", **params},
                            headers=bearer(who or node, role))


async def instant():
    """A time strictly between the events fed before and after it."""
    await asyncio.sleep(0.02)
    t = utcnow()
    await asyncio.sleep(0.02)
    return t


def figures(rollup):
    commit = next(c["amount"] for c in rollup["categories"] if c["category"] == "commit")
    return {"open_count": rollup["open_count"], "open_amount": rollup["open_amount"],
            "weighted_amount": rollup["weighted_amount"], "commit_amount": commit,
            "won_count": rollup["won_count"], "won_amount": rollup["won_amount"]}


def add_up(changes):
    """start + Σ steps, per figure."""
    out = {}
    for key, value in changes["start"].items():
        total = Decimal(str(value)) + sum(Decimal(str(s[key])) for s in changes["waterfall"])
        out[key] = int(total) if isinstance(value, int) else f"{total:.2f}"
    return out


async def test_waterfall_classifies_each_move_and_its_ends_equal_the_rollups(forecast, events):
    moved = events.Opportunity(REP_A, amount="1000.00", close=Q4)
    slipping = events.Opportunity(REP_A, amount="2000.00", close=Q4)
    winning = events.Opportunity(REP_B, amount="3000.00", close=Q4)
    shrinking = events.Opportunity(REP_B, amount="4000.00", close=Q4)
    back = events.Opportunity(REP_B, amount="500.00", close=Q4)
    await feed(forecast.runtime, *moved.at_stage(2), *slipping.at_stage(3), *winning.at_stage(6),
               *shrinking.at_stage(4), *back.at_stage(5))
    since = await instant()
    then = (await get(forecast, "/v1/rollups", MGR)).json()
    created = events.Opportunity(REP_A, amount="700.00", close=Q4)
    shrinking.state = shrinking.state.model_copy(update={"amount": Decimal("3500.00")})
    slipping.state = slipping.state.model_copy(update={"close_date": dt.date(2027, 2, 1)})
    await feed(forecast.runtime, moved.move(5), slipping.move(3), winning.close("won"), shrinking.move(4),
               back.move(2), *created.at_stage(6))
    now = (await get(forecast, "/v1/rollups", MGR)).json()
    resp = await get(forecast, "/v1/pipeline-changes", MGR, since=since.isoformat())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["start"] == figures(then)
    assert body["end"] == figures(now)
    assert add_up(body) == body["end"]
    kinds = {c["opportunity_id"]: c["kind"] for c in body["changes"]}
    assert kinds == {str(moved.state.id): "moved_forward", str(slipping.state.id): "slipped",
                     str(winning.state.id): "won", str(shrinking.state.id): "amount_changed",
                     str(back.state.id): "moved_back", str(created.state.id): "created"}
    won = next(c for c in body["changes"] if c["kind"] == "won")
    assert won["before"]["status"] == "open" and won["before"]["stage"] == 6 and won["after"]["status"] == "won"
    assert won["effect"] == {"open_amount": "-3000.00", "weighted_amount": "-2100.00", "commit_amount": "-3000.00",
                             "won_amount": "3000.00"}
    new = next(c for c in body["changes"] if c["kind"] == "created")
    assert new["before"] is None and new["after"]["amount"] == "700.00"
    step = {s["kind"]: s for s in body["waterfall"]}
    assert step["slipped"]["open_amount"] == "-2000.00" and step["slipped"]["count"] == 1
    assert step["amount_changed"]["open_amount"] == "-500.00"
    # the rep's own subtree sees only their opportunities' changes
    rep = (await get(forecast, "/v1/pipeline-changes", REP_A, role="rep", since=since.isoformat())).json()
    assert {c["kind"] for c in rep["changes"]} == {"moved_forward", "slipped", "created"}
    assert rep["end"] == figures((await get(forecast, "/v1/rollups", REP_A, role="rep")).json())


async def test_forecast_history_ends_today_at_the_rollup(forecast, events):
    opp = events.Opportunity(REP_B, amount="800.00", close=dt.date(2026, 12, 1))
    await feed(forecast.runtime, *opp.at_stage(3))
    for interval in ("day", "week"):
        resp = await get(forecast, "/v1/forecast-history", MGR, interval=interval)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        now = (await get(forecast, "/v1/rollups", MGR)).json()
        last = body["points"][-1]
        assert last["day"] == utcnow().date().isoformat()
        for key in ("open_count", "open_amount", "weighted_amount", "won_amount", "categories"):
            assert last[key] == now[key]
        assert body["submissions"] == []


async def test_history_days_step_at_midnight(forecast, events):
    """A day's point is the state at its end: a past change shows from its day on, not before."""
    opp = events.Opportunity(MGR, amount="900.00", close=dt.date(2026, 10, 5))
    created = opp.created()
    created.time = created.time - dt.timedelta(days=3)  # as if opportunity-svc had published it 3 days ago
    await feed(forecast.runtime, created)
    body = (await get(forecast, "/v1/forecast-history", MGR, who=MGR)).json()
    by_day = {p["day"]: p for p in body["points"]}
    today = utcnow().date()
    before, on = (today - dt.timedelta(days=4)).isoformat(), (today - dt.timedelta(days=3)).isoformat()
    if before in by_day:  # the module's history starts today; the back-dated event moves its start
        assert Decimal(by_day[on]["open_amount"]) - Decimal(by_day[before]["open_amount"]) == Decimal("900.00")
    assert Decimal(by_day[on]["open_amount"]) >= Decimal("900.00")


@pytest.mark.parametrize("since, limit", [("2000-01-01", "before the retained history"),
                                          ("2999-01-01T00:00:00Z", "in the future")])
async def test_since_outside_the_history_is_422_naming_the_limit(forecast, since, limit):
    resp = await get(forecast, "/v1/pipeline-changes", MGR, since=since)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert limit in body["detail"] and "since" in str(body)


async def test_bad_input(forecast):
    assert (await get(forecast, "/v1/pipeline-changes", MGR, since="yesterday")).status_code == 422
    assert (await get(forecast, "/v1/forecast-history", MGR, interval="hour")).status_code == 422
    assert (await forecast.get("/v1/pipeline-changes", params={"node": str(MGR), "period": "2026-Q9",
                                                               "since": "2026-01-01"},
                               headers=bearer(MGR, "manager"))).status_code == 422


@pytest.mark.parametrize("path", ["/v1/pipeline-changes", "/v1/forecast-history"])
async def test_a_node_outside_the_subtree_or_unknown_is_404(forecast, path):
    today = utcnow().date().isoformat()
    assert (await get(forecast, path, BOSS, who=MGR, since=today)).status_code == 404
    assert (await get(forecast, path, STRANGER, who=MGR, since=today)).status_code == 404
    assert (await get(forecast, path, uuid.uuid4(), who=MGR, since=today)).status_code == 404
    assert (await get(forecast, path, REP_A, who=BOSS, since=today)).status_code == 200
