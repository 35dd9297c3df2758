"""Forecast categories (from the stage mapping or the owner's override), confirmed-only roll-ups,
fiscal periods from team-svc's calendar, and the mapping's admin API."""
import datetime as dt
import uuid

import pytest

from kam_shared.events import DomainEvent, OpportunityCreated, OpportunityState, utcnow
from kam_shared.events.team import FiscalCalendarChanged, FiscalCalendarState
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event

MANAGER, REP = uuid.uuid4(), uuid.uuid4()
ADMIN = bearer(uuid.uuid4(), "admin")


def opp(stage=1, amount="100.00", close=dt.date(2029, 2, 10), confirmed=False, category=None, status="open"):
    state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=amount, currency="CNY",
                             close_date=close, owner_id=REP, stage=stage, probability=10 * stage, status=status,
                             version=1, updated_at=utcnow(), confirmed=confirmed, forecast_category=category)
    return DomainEvent("kam.opportunity.created.v1", state.id, 1, OpportunityCreated(opportunity=state)
                       ).to_cloudevent("/kam/opportunity-svc")


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER))
        yield client


async def categories(client, period="2029-02", **params):
    resp = await client.get("/v1/rollups", params={"node": str(MANAGER), "period": period, **params},
                            headers=bearer(MANAGER, "manager"))
    assert resp.status_code == 200, resp.text
    return {c["category"]: (c["count"], c["amount"]) for c in resp.json()["categories"]}


async def test_categories_follow_the_mapping_and_the_owners_override_and_confirmation(forecast):
    await feed(forecast.runtime, opp(stage=2, amount="100.00"), opp(stage=4, amount="200.00", confirmed=True),
               opp(stage=7, amount="400.00", confirmed=True), opp(stage=2, amount="800.00", category="commit"),
               opp(stage=8, amount="1600.00", status="won", confirmed=True),
               opp(stage=8, amount="3200.00", status="lost"))
    assert await categories(forecast) == {
        "pipeline": (1, "100.00"), "best_case": (1, "200.00"), "commit": (2, "1200.00"),
        "closed": (1, "1600.00"), "omitted": (1, "3200.00")}
    assert await categories(forecast, confirmed_only="true") == {
        "pipeline": (0, "0.00"), "best_case": (1, "200.00"), "commit": (1, "400.00"),
        "closed": (1, "1600.00"), "omitted": (0, "0.00")}
    confirmed = (await forecast.get("/v1/rollups", params={"node": str(REP), "period": "2029-02",
                                                           "confirmed_only": "true"},
                                    headers=bearer(REP, "rep"))).json()
    assert confirmed["open_count"] == 2 and confirmed["won_amount"] == "1600.00" and confirmed["confirmed_only"]


async def test_an_admin_remaps_stages_and_roll_ups_follow_at_once(forecast):
    current = await forecast.get("/v1/forecast-categories", headers=bearer(REP, "rep"))
    assert current.status_code == 200 and current.headers["etag"] == '"1"'
    assert {m["stage"]: m["category"] for m in current.json()["mapping"]}[4] == "best_case"
    before_events = len(await outbox_rows(forecast.runtime))
    mapping = [{"stage": s, "category": "commit" if s >= 4 else "pipeline"} for s in range(1, 8)]
    resp = await forecast.put("/v1/forecast-categories", json=mapping, headers={**ADMIN, "If-Match": '"1"'})
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == '"2"' and resp.json()["version"] == 2
    events = (await outbox_rows(forecast.runtime))[before_events:]
    assert [e["event_type"] for e in events] == ["kam.forecast.category_mapping_changed.v1"]
    assert (await categories(forecast, confirmed_only="true"))["commit"] == (2, "600.00")
    stale = await forecast.put("/v1/forecast-categories", json=mapping, headers={**ADMIN, "If-Match": '"1"'})
    assert stale.status_code == 412


@pytest.mark.parametrize("body, headers, status, mentions", [
    ([{"stage": s, "category": "pipeline"} for s in range(1, 7)], ADMIN, 422, "7"),
    ([{"stage": s, "category": "closed"} for s in range(1, 8)], ADMIN, 422, "category"),
    ([{"stage": 1, "category": "pipeline"}] * 2 + [{"stage": s, "category": "pipeline"} for s in range(2, 8)],
     ADMIN, 422, "once"),
    ([{"stage": s, "category": "pipeline"} for s in range(1, 8)] + [{"stage": 8, "category": "commit"}],
     ADMIN, 422, "stage"),
    ([{"stage": s, "category": "pipeline"} for s in range(1, 8)], bearer(MANAGER, "manager"), 403, "admin"),
])
async def test_bad_mappings_are_refused_and_change_nothing(forecast, body, headers, status, mentions):
    before = (await forecast.get("/v1/forecast-categories", headers=ADMIN)).json()
    events = len(await outbox_rows(forecast.runtime))
    resp = await forecast.put("/v1/forecast-categories", json=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.text
    assert (await forecast.get("/v1/forecast-categories", headers=ADMIN)).json() == before
    assert len(await outbox_rows(forecast.runtime)) == events


async def test_fiscal_periods_follow_team_svcs_calendar(forecast):
    await feed(forecast.runtime, opp(stage=3, amount="50.00", close=dt.date(2029, 4, 3)))
    calendar_q1 = (await forecast.get("/v1/rollups", params={"node": str(REP), "period": "FY2029-Q1"},
                                      headers=bearer(REP, "rep"))).json()
    assert (calendar_q1["period_start"], calendar_q1["period_end"]) == ("2029-01-01", "2029-04-01")
    assert calendar_q1["open_amount"] == "1500.00"  # until team-svc says otherwise, FY = calendar year
    changed = DomainEvent("kam.team.fiscal_calendar_changed.v1", "fiscal-calendar", 2, FiscalCalendarChanged(
        calendar=FiscalCalendarState(fiscal_year_start_month=4, version=2))).to_cloudevent("/kam/team-svc")
    await feed(forecast.runtime, changed)
    q1 = (await forecast.get("/v1/rollups", params={"node": str(REP), "period": "fy2029-q1"},
                             headers=bearer(REP, "rep"))).json()
    assert (q1["period"], q1["period_start"], q1["period_end"]) == ("FY2029-Q1", "2029-04-01", "2029-07-01")
    assert q1["open_amount"] == "50.00"
    fy = (await forecast.get("/v1/rollups", params={"node": str(REP), "period": "FY2028"},
                             headers=bearer(REP, "rep"))).json()
    assert (fy["period_start"], fy["period_end"]) == ("2028-04-01", "2029-04-01") and fy["won_amount"] == "1600.00"
    bad = await forecast.get("/v1/rollups", params={"node": str(REP), "period": "FY29"}, headers=bearer(REP, "rep"))
    assert bad.status_code == 422 and "FY2026" in bad.json()["detail"]
