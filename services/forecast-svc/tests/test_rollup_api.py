"""forecast-svc: events in (through the real consumer path and database), roll-ups out over HTTP."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.events import (
    DomainEvent,
    OpportunityClosed,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityState,
    utcnow,
)
from kam_shared.testing import bearer, feed, service_client, user_event

DIRECTOR, MANAGER, REP, REP2, OUTSIDER = (uuid.uuid4() for _ in range(5))


class Opp:
    """Builds the events opportunity-svc would publish for one opportunity."""

    def __init__(self, owner, amount="100000.00", close=dt.date(2026, 11, 20), currency="CNY"):
        self.state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal(amount),
                                      currency=currency, close_date=close, owner_id=owner, stage=1, probability=10,
                                      status="open", version=1, updated_at=utcnow())

    def created(self):
        return DomainEvent("kam.opportunity.created.v1", self.state.id, 1,
                           OpportunityCreated(opportunity=self.state)).to_cloudevent("/kam/opportunity-svc")

    def move(self, stage, probability):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": stage, "probability": probability,
                                                   "version": self.state.version + 1})
        return DomainEvent("kam.opportunity.stage_changed.v1", self.state.id, self.state.version,
                           OpportunityStageChanged(opportunity=self.state, from_stage=before, to_stage=stage)
                           ).to_cloudevent("/kam/opportunity-svc")

    def close(self, outcome):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": 8, "probability": 100 if outcome == "won" else 0,
                                                   "status": outcome, "version": self.state.version + 1})
        return DomainEvent("kam.opportunity.closed.v1", self.state.id, self.state.version, OpportunityClosed(
            opportunity=self.state, outcome=outcome, reason="r", from_stage=before)).to_cloudevent("/kam/o")


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(DIRECTOR, "manager", None), user_event(MANAGER, "manager", DIRECTOR),
                   user_event(REP, "rep", MANAGER), user_event(REP2, "rep", MANAGER),
                   user_event(OUTSIDER, "rep", None))
        yield client


async def rollup(client, node, period="2026-Q4", who=None, role="manager", **params):
    resp = await client.get("/v1/rollups", params={"node": str(node), "period": period, **params},
                            headers=bearer(who or node, role))
    return resp


async def test_pipeline_rolls_up_the_whole_subtree_and_won_moves_out_of_it(forecast):
    before_dir = (await rollup(forecast, DIRECTOR)).json()
    a, b = Opp(REP), Opp(REP2, amount="40000.00", close=dt.date(2026, 12, 31))
    await feed(forecast.runtime, a.created(), a.move(5, 50), b.created(), b.move(2, 20))
    rep = (await rollup(forecast, REP, role="rep")).json()
    assert rep["stages"][4] == {"stage": 5, "count": 1, "amount": "100000.00", "weighted_amount": "50000.00"}
    assert rep["open_amount"] == "100000.00" and rep["weighted_amount"] == "50000.00"
    mgr = (await rollup(forecast, MANAGER)).json()
    director = (await rollup(forecast, DIRECTOR)).json()
    for view in (mgr, director):
        assert Decimal(view["weighted_amount"]) - Decimal(before_dir["weighted_amount"]) == Decimal("58000.00")
        assert view["open_count"] - before_dir["open_count"] == 2
    assert director["as_of"] is not None
    await feed(forecast.runtime, a.close("won"))
    rep = (await rollup(forecast, REP, role="rep")).json()
    assert rep["won_count"] == 1 and rep["won_amount"] == "100000.00" and rep["open_count"] == 0


async def test_as_of_dates_the_figures_it_is_read_with_even_when_a_batch_commits_mid_read(forecast, monkeypatch):
    """A roll-up is read in several statements, each on its own snapshot (a read session). A batch
    that commits between them must not leave the new figures dated by the old `as_of`: `as_of` is
    read with the cells (the end-to-end flow once saw stage-5 figures with `as_of` still null)."""
    from forecast_svc.rollups.repository import RollupRepository

    before = (await rollup(forecast, MANAGER)).json()
    deal = Opp(REP, amount="3000.00", close=dt.date(2026, 11, 3))
    read_cells = RollupRepository.node_cells

    async def a_batch_commits_first(self, *args):
        monkeypatch.setattr(RollupRepository, "node_cells", read_cells)  # once
        await feed(forecast.runtime, deal.created(), deal.move(5, 50))
        return await read_cells(self, *args)

    monkeypatch.setattr(RollupRepository, "node_cells", a_batch_commits_first)
    torn = (await rollup(forecast, MANAGER)).json()
    assert Decimal(torn["open_amount"]) - Decimal(before["open_amount"]) == Decimal("3000.00")
    assert torn["as_of"] is not None, before["as_of"]
    assert dt.datetime.fromisoformat(torn["as_of"]) > dt.datetime.fromisoformat(before["as_of"])
    assert torn["as_of"] == (await rollup(forecast, MANAGER)).json()["as_of"]


async def test_close_date_decides_the_period(forecast):
    o = Opp(REP, amount="1000.00", close=dt.date(2027, 1, 5))
    await feed(forecast.runtime, o.created())
    q1 = (await rollup(forecast, REP, period="2027-Q1", role="rep")).json()
    jan = (await rollup(forecast, REP, period="2027-01", role="rep")).json()
    year = (await rollup(forecast, REP, period="2027", role="rep")).json()
    feb = (await rollup(forecast, REP, period="2027-02", role="rep")).json()
    assert q1["open_amount"] == jan["open_amount"] == year["open_amount"] == "1000.00"
    assert feb["open_amount"] == "0.00"


async def test_redelivered_and_out_of_order_events_change_nothing(forecast):
    o = Opp(REP2, amount="7000.00", close=dt.date(2026, 10, 2))
    created, moved = o.created(), o.move(6, 70)
    await feed(forecast.runtime, created, moved, created, moved)
    stale = Opp(REP2)
    stale.state = o.state.model_copy(update={"stage": 3, "probability": 30, "version": 1})
    await feed(forecast.runtime, stale.move(3, 30))  # a new event id, but version 2 is not newer than 2
    r = (await rollup(forecast, REP2, period="2026-10", role="rep")).json()
    assert r["stages"][5]["count"] == 1 and r["stages"][5]["weighted_amount"] == "4900.00"
    assert r["stages"][2]["count"] == 0


async def test_other_currencies_are_not_summed_in(forecast):
    o = Opp(REP, amount="999.00", close=dt.date(2026, 8, 1), currency="USD")
    await feed(forecast.runtime, o.created())
    cny = (await rollup(forecast, REP, period="2026-08", role="rep")).json()
    usd = (await rollup(forecast, REP, period="2026-08", role="rep", currency="USD")).json()
    assert cny["open_amount"] == "0.00" and cny["other_currencies"] == ["USD"]
    assert usd["open_amount"] == "999.00" and usd["currency"] == "USD"


async def test_visibility_of_nodes(forecast):
    assert (await rollup(forecast, MANAGER, who=DIRECTOR)).status_code == 200
    assert (await rollup(forecast, DIRECTOR, who=uuid.uuid4(), role="admin")).status_code == 200
    for who, node in ((REP, MANAGER), (REP, REP2), (OUTSIDER, REP), (MANAGER, DIRECTOR)):
        resp = await rollup(forecast, node, who=who, role="rep")
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/problem+json")
    unknown = await rollup(forecast, uuid.uuid4(), who=DIRECTOR)
    assert unknown.status_code == 404


@pytest.mark.parametrize("params, mentions", [
    ({"period": "2026-Q7"}, "period"), ({"period": "soon"}, "period"), ({"node": "me"}, "node"),
    ({"currency": "XYZ"}, "currency"), ({"period": None}, "period"),
])
async def test_bad_rollup_queries_are_422_naming_the_parameter(forecast, params, mentions):
    query = {"node": str(REP), "period": "2026-Q4", **params}
    query = {k: v for k, v in query.items() if v is not None}
    resp = await forecast.get("/v1/rollups", params=query, headers=bearer(REP, "rep"))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert mentions in body["detail"] + str(body.get("field", ""))


async def test_a_stage_reweighting_reweights_open_pipeline_even_for_events_that_predate_it(forecast, events):
    period = "2028-02"
    a = Opp(REP2, amount="1000.00", close=dt.date(2028, 2, 10))
    won = Opp(REP2, amount="500.00", close=dt.date(2028, 2, 11))
    await feed(forecast.runtime, a.created(), a.move(5, 50), won.created(), won.move(5, 50), won.close("won"))
    assert (await rollup(forecast, REP2, period=period, role="rep")).json()["weighted_amount"] == "500.00"
    await feed(forecast.runtime, events.stage_model_changed(1, {5: 60}))
    r = (await rollup(forecast, REP2, period=period, role="rep")).json()
    assert r["weighted_amount"] == "600.00" and r["won_amount"] == "500.00"  # closed deals keep their figures
    # An event produced before the re-weighting (probability 50) but consumed after it.
    late = Opp(REP2, amount="2000.00", close=dt.date(2028, 2, 12))
    await feed(forecast.runtime, late.created(), late.move(5, 50))
    assert (await rollup(forecast, REP2, period=period, role="rep")).json()["weighted_amount"] == "1800.00"
    await feed(forecast.runtime, events.stage_model_changed(1, {5: 99}))  # a replayed or older model changes nothing
    assert (await rollup(forecast, REP2, period=period, role="rep")).json()["weighted_amount"] == "1800.00"
    await feed(forecast.runtime, events.stage_model_changed(2, {5: 50}))
    assert (await rollup(forecast, REP2, period=period, role="rep")).json()["weighted_amount"] == "1500.00"


async def test_an_owner_change_moves_the_numbers_between_subtrees(forecast):
    from kam_shared.events.opportunity import OpportunityOwnerChanged

    o = Opp(REP, amount="3000.00", close=dt.date(2028, 3, 3))
    await feed(forecast.runtime, o.created())
    before = o.state.owner_id
    o.state = o.state.model_copy(update={"owner_id": OUTSIDER, "version": o.state.version + 1})
    moved = DomainEvent("kam.opportunity.owner_changed.v1", o.state.id, o.state.version, OpportunityOwnerChanged(
        opportunity=o.state, from_owner_id=before, to_owner_id=OUTSIDER)).to_cloudevent("/kam/opportunity-svc")
    await feed(forecast.runtime, moved)
    assert (await rollup(forecast, MANAGER, period="2028-03")).json()["open_amount"] == "0.00"
    assert (await rollup(forecast, OUTSIDER, period="2028-03", role="rep")).json()["open_amount"] == "3000.00"


async def test_consumer_status_is_for_admins_and_counts_applied_events(forecast):
    resp = await forecast.get("/v1/admin/consumer", headers=bearer(uuid.uuid4(), "admin"))
    body = resp.json()
    assert resp.status_code == 200 and body["group"] == "forecast-svc" and body["events_applied"] >= 5
    assert (await forecast.get("/v1/admin/consumer", headers=bearer(REP, "rep"))).status_code == 403
