"""The predicted outcome and its backtest over HTTP, on a constructed history: opportunity events
with past times (as opportunity-svc publishes them: the state's created_at and stage_entered_at),
fed through the consumer's own path."""
import datetime as dt
import uuid
from decimal import Decimal as D

import pytest

from forecast_svc.periods.domain import parse_period
from forecast_svc.predictions.service import past_periods
from kam_shared.events import (
    DomainEvent,
    OpportunityClosed,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityState,
    utcnow,
)
from kam_shared.testing import bearer, feed, service_client, user_event

ADMIN, HEAD, LEAD, R1, R2, OUTSIDER = (uuid.uuid4() for _ in range(6))
ROLE = {ADMIN: "admin", HEAD: "manager", LEAD: "manager"}
NOW = utcnow()
TODAY = NOW.date()
LAST_Q = past_periods("quarter", 1, TODAY)[0]
S = dt.datetime.combine(LAST_Q.start, dt.time(), dt.timezone.utc)  # the last quarter's start
MID = dt.datetime.combine(LAST_Q.start + (LAST_Q.end - LAST_Q.start) // 2, dt.time(), dt.timezone.utc)
THIS_Q = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
THIS_Q_END = parse_period(THIS_Q).end


class Deal:
    """The events opportunity-svc publishes for one opportunity, at the times given."""

    def __init__(self, owner, amount, close: dt.date, at: dt.datetime, currency="CNY"):
        self.state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=D(amount),
                                      currency=currency, close_date=close, owner_id=owner, stage=1, probability=10,
                                      status="open", version=1, updated_at=at, created_at=at, stage_entered_at=at)

    def _event(self, kind, payload):
        return DomainEvent(f"kam.opportunity.{kind}.v1", self.state.id, self.state.version, payload
                           ).to_cloudevent("/kam/opportunity-svc")

    def created(self):
        return self._event("created", OpportunityCreated(opportunity=self.state))

    def move(self, stage, at):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": stage, "version": self.state.version + 1,
                                                   "updated_at": at, "stage_entered_at": at})
        return self._event("stage_changed", OpportunityStageChanged(opportunity=self.state, from_stage=before,
                                                                    to_stage=stage))

    def close(self, outcome, at):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": 8, "status": outcome, "version": self.state.version + 1,
                                                   "updated_at": at, "stage_entered_at": at})
        return self._event("closed", OpportunityClosed(opportunity=self.state, outcome=outcome, reason="r",
                                                       from_stage=before))


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(ADMIN, "admin", None), user_event(HEAD, "manager", None),
                   user_event(LEAD, "manager", HEAD), user_event(R1, "rep", LEAD), user_event(R2, "rep", LEAD),
                   user_event(OUTSIDER, "rep", None))
        history = []
        # Before the last quarter: 20 of R1's closed from stage 5, half won, 10 days after entering it.
        for i in range(20):
            d = Deal(R1, "100.00", (S - days(400)).date(), S - days(100))  # closed in no period asked
            history += [d.created(), d.move(5, S - days(90)), d.close("won" if i % 2 else "lost", S - days(80))]
        # In the last quarter: A (1000, won after the midpoint) and B (400, lost 3 days in), both in stage 5
        # five days before the quarter began.
        a = Deal(R1, "1000.00", LAST_Q.start + days(10), S - days(5))
        b = Deal(R1, "400.00", LAST_Q.start + days(10), S - days(5))
        history += [a.created(), a.move(5, S - days(5)), b.created(), b.move(5, S - days(5)),
                    b.close("lost", S + days(3)), a.close("won", MID + days(1))]
        # This quarter: C (2000) in stage 5 for 2 days, a USD one, and an outsider's.
        c = Deal(R1, "2000.00", THIS_Q_END - days(1), NOW - days(2))
        usd = Deal(R2, "50.00", THIS_Q_END - days(1), NOW - days(1), currency="USD")
        other = Deal(OUTSIDER, "999.00", THIS_Q_END - days(1), NOW - days(1))
        history += [c.created(), c.move(5, NOW - days(2)), usd.created(), other.created()]
        await feed(client.runtime, *history)
        client.deals = {"a": a, "c": c}
        yield client


async def prediction(client, node, period=THIS_Q, who=None, **params):
    who = who or node
    return await client.get("/v1/predictions", params={"node": str(node), "period": period, **params},
                            headers=bearer(who, ROLE.get(who, "rep")))


async def test_the_prediction_applies_the_nodes_own_history_to_todays_pipeline(forecast):
    resp = await prediction(forecast, R1)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    stage5 = body["stages"][4]
    # Stage 5's history at R1: the 20 before, A (won after the midpoint) and B (lost): 22 closed, 11 won.
    assert (stage5["count"], stage5["open_amount"], stage5["conversion_source"], stage5["source_node"]) == \
        (1, "2000.00", "node", str(R1))
    assert (stage5["sample_size"], stage5["won_in_sample"], stage5["conversion_pct"]) == (22, 11, "50.0")
    # Timing: C is 2 days in stage 5; of the 11 won (10 took 10 days, A took longer), those that closed
    # within the days left in the quarter.
    a_days = (MID + days(1)).date() - (S - days(5)).date()
    left = (THIS_Q_END - TODAY).days
    in_time = (10 if 10 <= 2 + left else 0) + (1 if a_days.days <= 2 + left else 0)
    expected = (D(2000) * D("0.5") * D(in_time) / 11).quantize(D("0.01"))
    assert D(stage5["expected_amount"]) == expected and D(body["expected_amount"]) == expected
    assert body["won_amount"] == "0.00" and body["open_count"] == 1 and body["open_amount"] == "2000.00"
    assert D(body["low_amount"]) <= expected <= D(body["high_amount"]) <= D(2000)
    # Stages 6 and 7: only the won reached them (11 < 20 anywhere): the organisation's history, 100%.
    assert (body["stages"][5]["conversion_source"], body["stages"][5]["conversion_pct"]) == ("org", "100.0")
    assert body["interval"] == "90%" and body["min_sample"] == 20 and body["other_currencies"] == []


async def test_a_node_without_enough_history_borrows_its_managers(forecast):
    body = (await prediction(forecast, R2)).json()
    assert (body["stages"][4]["conversion_source"], body["stages"][4]["source_node"]) == ("node", str(LEAD))
    assert body["open_count"] == 0 and body["other_currencies"] == ["USD"]
    usd = (await prediction(forecast, R2, currency="USD")).json()
    assert usd["open_amount"] == "50.00" and usd["stages"][0]["count"] == 1
    # The manager's node is the whole team; the head sees it too.
    lead = (await prediction(forecast, LEAD, who=HEAD)).json()
    assert lead["open_amount"] == "2000.00" and lead["stages"][4]["source_node"] == str(LEAD)


async def test_unknown_nodes_outsiders_and_bad_periods_are_refused(forecast):
    assert (await prediction(forecast, uuid.uuid4(), who=ADMIN)).status_code == 404
    assert (await prediction(forecast, R1, who=OUTSIDER)).status_code == 404
    assert (await prediction(forecast, LEAD, who=R1)).status_code == 404  # above you
    for bad in ("2026-Q5", "1800", "next quarter"):
        resp = await prediction(forecast, R1, period=bad)
        assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
        assert "period" in resp.text
    resp = await forecast.get("/v1/predictions/accuracy", params={"node": str(R1), "kind": "year"},
                              headers=bearer(R1))
    assert resp.status_code == 422 and "kind" in resp.text
    resp = await forecast.get("/v1/predictions/accuracy", params={"node": str(R1)}, headers=bearer(OUTSIDER))
    assert resp.status_code == 404


async def test_the_backtest_predicts_past_periods_from_what_was_known_then(forecast):
    resp = await forecast.get("/v1/predictions/accuracy", params={"node": str(R1), "count": 2}, headers=bearer(R1))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    last = body["periods"][-1]
    assert last["period"] == LAST_Q.label and last["actual_won"] == "1000.00"
    # At the start: the 20 before (50%); A and B open in stage 5, young: 1000 × .5 + 400 × .5 = 700.
    assert last["predicted_at_start"] == "700.00" and last["ape_at_start_pct"] == "30.0"
    # At the midpoint: B lost (21 closed, 10 won); A open, older than any win: 1000 × 10/21.
    assert last["predicted_at_midpoint"] == str((D(1000) * 10 / 21).quantize(D("0.01")))
    assert last["ape_at_midpoint_pct"] == "52.4"
    assert last["submitted_forecast"] is None and last["ape_submitted_pct"] is None
    # The quarter before held nothing that closed in it: no error to average.
    first = body["periods"][0]
    assert first["actual_won"] == "0.00" and first["ape_at_start_pct"] is None
    assert body["mape_at_start_pct"] == "30.0" and body["mape_at_midpoint_pct"] == "52.4"
    assert body["mape_submitted_pct"] is None


async def test_a_submitted_forecast_stands_beside_the_method(forecast):
    """R1's own record for the last quarter: 800 committed against 1000 won is 20% off."""
    created = await forecast.post("/v1/forecasts", json={"period": LAST_Q.label}, headers=bearer(R1))
    assert created.status_code == 201, created.text
    record = created.json()["id"]
    resp = await forecast.post(f"/v1/forecasts/{record}/adjustments", headers=bearer(R1),
                               json={"category": "commit", "amount": "800.00", "reason": "two deals likely"})
    assert resp.status_code == 201, resp.text
    assert (await forecast.post(f"/v1/forecasts/{record}/submit", json={}, headers=bearer(R1))).status_code == 200
    body = (await forecast.get("/v1/predictions/accuracy", params={"node": str(R1), "count": 2},
                               headers=bearer(R1))).json()
    last = body["periods"][-1]
    assert (last["submitted_forecast"], last["ape_submitted_pct"], body["mape_submitted_pct"]) == \
        ("800.00", "20.0", "20.0")
    assert last["ape_at_start_pct"] == "30.0"  # the method's figures did not move


async def test_a_new_close_changes_the_next_prediction(forecast):
    before = (await prediction(forecast, R1)).json()["stages"][4]
    d = Deal(R1, "10.00", (NOW - days(30)).date(), NOW - days(40))
    await feed(forecast.runtime, d.created(), d.move(5, NOW - days(35)), d.close("won", NOW - days(30)))
    after = (await prediction(forecast, R1)).json()["stages"][4]
    assert (after["sample_size"], after["won_in_sample"]) == (before["sample_size"] + 1, before["won_in_sample"] + 1)


async def test_the_prediction_tables_match_migration_0013(forecast):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from forecast_svc.tables import metadata

    mine = {"prediction_journeys", "prediction_versions"}
    async with forecast.runtime.db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), metadata))

    def names(diff) -> set:
        parts = diff if isinstance(diff, list) else [diff]
        found = set()
        for d in parts:
            for part in d[1:]:
                table = getattr(part, "table", None)
                found.add(table.name if table is not None else getattr(part, "name", part))
        return found

    assert [d for d in diffs if names(d) & mine] == []
