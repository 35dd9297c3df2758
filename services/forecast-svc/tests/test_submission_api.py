"""Forecast submission level by level (逐层上报) over HTTP, on the real app and a real migrated database.

Hierarchy: HEAD (business unit, no superior) ← MANAGER ← REP, REP2; OUTSIDER has no superior either.
Each test works in its own period so tests do not see each other's records.
"""
import datetime as dt
import json
import uuid
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from forecast_svc.submission.models import forecast_principles, forecast_records, forecast_versions
from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityCreated, OpportunityState, utcnow
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event

HEAD, MANAGER, REP, REP2, OUTSIDER, ADMIN = (uuid.uuid4() for _ in range(6))
PROBABILITY = {1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 70, 7: 90}


class Opp:
    """The events opportunity-svc would publish for one opportunity."""

    def __init__(self, owner, amount, close, stage=6, confirmed=True, currency="CNY", category=None):
        self.state = OpportunityState(
            id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal(amount), currency=currency,
            close_date=close, owner_id=owner, stage=stage, probability=PROBABILITY[stage], status="open", version=1,
            updated_at=utcnow(), confirmed=confirmed, forecast_category=category)

    @property
    def id(self):
        return str(self.state.id)

    def created(self):
        return DomainEvent("kam.opportunity.created.v1", self.state.id, 1,
                           OpportunityCreated(opportunity=self.state)).to_cloudevent("/kam/opportunity-svc")

    def close(self, outcome):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": 8, "probability": 100 if outcome == "won" else 0,
                                                   "status": outcome, "version": self.state.version + 1})
        return DomainEvent("kam.opportunity.closed.v1", self.state.id, self.state.version, OpportunityClosed(
            opportunity=self.state, outcome=outcome, reason="r", from_stage=before)).to_cloudevent("/kam/o")


async def opportunities(client, *opps, won=(), lost=()):
    await feed(client.runtime, *(o.created() for o in opps))
    await feed(client.runtime, *(o.close("won") for o in won), *(o.close("lost") for o in lost))


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(HEAD, "manager", None), user_event(MANAGER, "manager", HEAD),
                   user_event(REP, "rep", MANAGER), user_event(REP2, "rep", MANAGER),
                   user_event(OUTSIDER, "rep", None))
        yield client


def as_(user, role=None):
    role = role or {HEAD: "manager", MANAGER: "manager", ADMIN: "admin"}.get(user, "rep")
    return bearer(user, role)


async def create(client, user, period, **body):
    return await client.post("/v1/forecasts", json={"period": period, **body}, headers=as_(user))


async def counts(client) -> dict:
    async with client.runtime.db.session() as session:
        return {name: await session.scalar(select(func.count()).select_from(table))
                for name, table in (("outbox", client.runtime.tables.outbox), ("records", forecast_records),
                                    ("versions", forecast_versions), ("principles", forecast_principles))}


@asynccontextmanager
async def nothing_written(client):
    """The request(s) inside must fail without a trace: no outbox row, no record, no version."""
    before = await counts(client)
    yield
    assert await counts(client) == before


async def new_events(client, since: int, type_=None) -> list[dict]:
    rows = (await outbox_rows(client.runtime))[since:]
    events = [json.loads(r["payload"]) for r in rows]
    return [e for e in events if type_ is None or e["type"] == type_]


def problem(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


# ================================================================== pre-fill
async def test_a_reps_prefill_counts_only_their_own_confirmed_opportunities_in_the_period(forecast):
    nov = dt.date(2026, 11, 10)
    commit = Opp(REP, "100000.00", nov, stage=6)
    best = Opp(REP, "40000.00", nov, stage=4)
    overridden = Opp(REP, "7000.00", nov, stage=2, category="commit")
    won = Opp(REP, "25000.00", nov, stage=7)
    lost = Opp(REP, "9000.00", nov, stage=5)
    unconfirmed = Opp(REP, "500000.00", nov, stage=7, confirmed=False)
    december = Opp(REP, "1000.00", dt.date(2026, 12, 1))
    dollars = Opp(REP, "3000.00", nov, currency="USD")
    someone_elses = Opp(REP2, "60000.00", nov)
    await opportunities(forecast, commit, best, overridden, won, lost, unconfirmed, december, dollars, someone_elses,
                        won=[won], lost=[lost])
    since = len(await outbox_rows(forecast.runtime))

    resp = await create(forecast, REP, "2026-11")
    assert resp.status_code == 201, resp.text
    record = resp.json()
    assert resp.headers["Location"] == f"/v1/forecasts/{record['id']}" and resp.headers["ETag"] == '"1"'
    assert record["owner_id"] == str(REP) and record["status"] == "draft" and record["version"] == 1
    assert record["figures"] == {"pipeline": "0.00", "best_case": "40000.00", "commit": "107000.00",
                                 "closed": "25000.00", "omitted": "9000.00"}
    assert record["forecast_amount"] == "132000.00"  # commit + closed (default principles)
    assert record["upside_amount"] == "40000.00"  # best case
    assert {x["opportunity_id"] for x in record["lines"]} == {commit.id, best.id, overridden.id, won.id, lost.id}
    assert record["children"] == [] and record["missing"] == [] and record["last_submitted"] is None
    [event] = await new_events(forecast, since)
    assert event["type"] == "kam.forecast.record_created.v1"
    assert event["subject"] == record["id"] and event["sequence"] == 1
    assert event["data"]["record"]["forecast_amount"] == "132000.00" and event["data"]["opportunity_count"] == 5

    usd = await create(forecast, REP, "2026-11", currency="USD")  # one record per currency
    assert usd.status_code == 201 and usd.json()["figures"]["commit"] == "3000.00"


async def test_one_record_per_owner_period_and_currency_and_only_your_own(forecast):
    first = await create(forecast, REP2, "2026-08")
    assert first.status_code == 201
    async with nothing_written(forecast):
        again = problem(await create(forecast, REP2, "2026-08"), 409)
        assert again["existing_id"] == first.json()["id"]
        for owner in (REP, MANAGER):  # for someone else: no, whoever asks
            body = problem(await create(forecast, REP2, "2026-09", owner_id=str(owner)), 403)
            assert body["field"] == "owner_id"
        assert (await create(forecast, MANAGER, "2026-09", owner_id=str(REP))).status_code == 403
        assert (await forecast.post("/v1/forecasts", json={"period": "2026-09"}, headers=as_(ADMIN))).status_code \
            == 409  # an admin unknown to the hierarchy has no place to forecast from
    mine = await create(forecast, REP2, "2026-09", owner_id=str(REP2))
    assert mine.status_code == 201 and mine.json()["owner_id"] == str(REP2)


# ================================================================== level by level
async def test_three_levels_submit_level_by_level_and_the_business_unit_publishes(forecast):
    q4 = dt.date(2028, 10, 15)
    rep_commit = Opp(REP, "100000.00", q4)
    rep_unconfirmed = Opp(REP, "50000.00", q4, confirmed=False)
    rep2_commit = Opp(REP2, "30000.00", q4)
    manager_best = Opp(MANAGER, "20000.00", q4, stage=4)
    head_commit = Opp(HEAD, "5000.00", q4)
    await opportunities(forecast, rep_commit, rep_unconfirmed, rep2_commit, manager_best, head_commit)
    since = len(await outbox_rows(forecast.runtime))

    # 1. The rep creates and submits to their superior.
    rep_record = (await create(forecast, REP, "2028-Q4")).json()
    resp = await forecast.post(f"/v1/forecasts/{rep_record['id']}/submit", json={"note": "solid"}, headers=as_(REP))
    assert resp.status_code == 200, resp.text
    submitted = resp.json()
    assert submitted["status"] == "submitted" and submitted["version"] == 2
    assert submitted["last_submitted"]["submitted_to"] == str(MANAGER)
    assert submitted["last_submitted"]["forecast_amount"] == "100000.00"
    [event] = await new_events(forecast, since, "kam.forecast.submitted.v1")
    assert event["data"]["submitted_to"] == str(MANAGER) and event["data"]["submitted_by"] == str(REP)
    assert event["sequence"] == 2 and event["data"]["record"]["figures"]["commit"] == "100000.00"
    assert event["data"]["record"]["period"] == "2028-Q4" and event["data"]["record"]["owner_id"] == str(REP)

    # 2. The manager sees what was submitted to them ...
    inbox = (await forecast.get("/v1/forecasts", params={"submitted_to": "me", "period": "2028-Q4"},
                                headers=as_(MANAGER))).json()
    assert [r["id"] for r in inbox["items"]] == [rep_record["id"]]
    assert inbox["items"][0]["last_submitted"]["figures"]["commit"] == "100000.00"
    # ... creates their own record from the roll-up: own opportunities + what reports submitted.
    mgr = (await create(forecast, MANAGER, "2028-Q4")).json()
    assert [(c["owner_id"], c["version"]) for c in mgr["children"]] == [(str(REP), 2)]
    assert dt.datetime.fromisoformat(mgr["children"][0]["submitted_at"]) == \
        dt.datetime.fromisoformat(submitted["last_submitted"]["submitted_at"])
    assert mgr["missing"] == [str(REP2)]
    assert mgr["figures"]["commit"] == "100000.00" and mgr["figures"]["best_case"] == "20000.00"
    assert mgr["own_figures"]["best_case"] == "20000.00" and mgr["own_figures"]["commit"] == "0.00"
    assert mgr["forecast_amount"] == "100000.00"
    # The live confirmed pipeline also has REP2's deal, which nobody submitted yet.
    assert mgr["live_rollup"]["commit"] == "130000.00" and mgr["live_rollup"]["best_case"] == "20000.00"

    # 3. ... adjusts their own record with a reason, which leaves the rep's record as it was.
    rep_versions_before = (await forecast.get(f"/v1/forecasts/{rep_record['id']}/versions", headers=as_(REP))).json()
    resp = await forecast.post(f"/v1/forecasts/{mgr['id']}/adjustments", headers=as_(MANAGER),
                               json={"category": "commit", "amount_delta": "10000.00",
                                     "reason": "the bank's second phase will be signed with the first"})
    assert resp.status_code == 201, resp.text
    adjusted = resp.json()
    assert adjusted["figures"]["commit"] == "110000.00" and adjusted["forecast_amount"] == "110000.00"
    assert adjusted["adjustments"] == {"commit": "10000.00"} and adjusted["version"] == 2
    assert resp.headers["Location"] == f"/v1/forecasts/{mgr['id']}/versions/2"
    rep_now = (await forecast.get(f"/v1/forecasts/{rep_record['id']}", headers=as_(REP))).json()
    assert rep_now["version"] == 2 and rep_now["figures"]["commit"] == "100000.00" and rep_now["adjustments"] == {}
    assert (await forecast.get(f"/v1/forecasts/{rep_record['id']}/versions", headers=as_(REP))).json() \
        == rep_versions_before
    [event] = await new_events(forecast, since, "kam.forecast.adjusted.v1")
    assert event["subject"] == mgr["id"] and event["data"]["delta"] == "10000.00"
    assert event["data"]["amount_before"] == "100000.00" and event["data"]["amount_after"] == "110000.00"
    assert event["data"]["reason"].startswith("the bank's")

    # 4. ... and submits upward.
    resp = await forecast.post(f"/v1/forecasts/{mgr['id']}/submit", headers=as_(MANAGER))
    assert resp.status_code == 200 and resp.json()["last_submitted"]["submitted_to"] == str(HEAD)

    # 5. The business unit's record takes in the manager's adjusted submission.
    head = (await create(forecast, HEAD, "2028-Q4")).json()
    assert [(c["owner_id"], c["version"], c["forecast_amount"]) for c in head["children"]] == \
        [(str(MANAGER), 3, "110000.00")]
    assert head["figures"]["commit"] == "115000.00" and head["forecast_amount"] == "115000.00"
    assert head["missing"] == []
    async with nothing_written(forecast):  # nobody above the business unit
        body = problem(await forecast.post(f"/v1/forecasts/{head['id']}/submit", headers=as_(HEAD)), 409)
        assert "publish" in body["detail"]

    # 6. Channel forecasts beside it, then the final forecast goes to production planning.
    resp = await forecast.post(f"/v1/forecasts/{head['id']}/channel-forecasts", headers=as_(HEAD),
                               json={"channel": "Distributors", "amount": "80000.00", "note": "from partner portal"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["forecast_amount"] == "115000.00"  # beside, not added in
    assert [(c["channel"], c["amount"]) for c in resp.json()["channel_forecasts"]] == [("Distributors", "80000.00")]
    resp = await forecast.post(f"/v1/forecasts/{head['id']}/publish", json={"note": "Q4 final"}, headers=as_(HEAD))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "published" and resp.json()["published_version"] == 3
    [published] = await new_events(forecast, since, "kam.forecast.published.v1")
    data = published["data"]
    assert published["subject"] == head["id"] and published["sequence"] == 3
    assert published["source"] == "/kam/forecast-svc"
    assert data["record"]["forecast_amount"] == "115000.00" and data["record"]["upside_amount"] == "20000.00"
    assert data["record"]["figures"]["commit"] == "115000.00" and data["record"]["status"] == "published"
    assert [(c["channel"], c["amount"]) for c in data["channel_forecasts"]] == [("Distributors", "80000.00")]
    assert [(c["record_id"], c["version"], c["forecast_amount"]) for c in data["children"]] == \
        [(mgr["id"], 3, "110000.00")]
    assert data["published_by"] == str(HEAD) and data["note"] == "Q4 final"

    # 7. The period is locked for the whole subtree: every further change is a 409 and writes nothing.
    async with nothing_written(forecast):
        for user, path, body in (
                (REP, f"{rep_record['id']}/submit", None),
                (MANAGER, f"{mgr['id']}/submit", None),
                (MANAGER, f"{mgr['id']}/adjustments", {"amount_delta": "1.00", "reason": "late news"}),
                (REP, f"{rep_record['id']}/refresh", None),
                (HEAD, f"{head['id']}/publish", None),
                (HEAD, f"{head['id']}/channel-forecasts", {"channel": "Retail", "amount": "1.00"})):
            resp = await forecast.post(f"/v1/forecasts/{path}", json=body, headers=as_(user))
            assert "locked" in problem(resp, 409)["detail"], path
        assert (await create(forecast, REP2, "2028-Q4")).status_code == 409
        # The same months under a fiscal label (fiscal year from January) are the same period:
        # no second record for them, and the publication locks them too.
        assert "already" in problem(await create(forecast, REP, "FY2028-Q4"), 409)["detail"]
        assert "locked" in problem(await create(forecast, REP2, "FY2028-Q4"), 409)["detail"]
    rep_view = (await forecast.get(f"/v1/forecasts/{rep_record['id']}", headers=as_(REP))).json()
    assert rep_view["locked"] and rep_view["locked_by_record_id"] == head["id"]
    # Another currency of the same period is a separate forecast, not locked.
    assert (await create(forecast, REP2, "2028-Q4", currency="EUR")).status_code == 201

    # Accuracy takes the business unit's published forecast; provisional until the quarter ends.
    report = (await forecast.get("/v1/forecast-accuracy", params={"node": str(HEAD), "period": "2028-Q4"},
                                 headers=as_(HEAD))).json()
    assert report["final"] is False
    assert [(r["owner_id"], r["kind"], r["version"], r["forecast_amount"]) for r in report["people"]] == [
        (str(HEAD), "publication", 3, "115000.00"), (str(MANAGER), "submission", 3, "110000.00"),
        (str(REP), "submission", 2, "100000.00")]


async def test_an_admin_acts_for_a_business_unit_but_not_below_it(forecast):
    top = (await create(forecast, OUTSIDER, "2027-04")).json()  # OUTSIDER heads a chain of one
    below = (await create(forecast, REP2, "2027-04")).json()
    async with nothing_written(forecast):
        problem(await forecast.post(f"/v1/forecasts/{below['id']}/publish", headers=as_(ADMIN)), 409)
        problem(await forecast.post(f"/v1/forecasts/{below['id']}/channel-forecasts", headers=as_(ADMIN),
                                    json={"channel": "Retail", "amount": "5.00"}), 409)
    resp = await forecast.post(f"/v1/forecasts/{top['id']}/channel-forecasts", headers=as_(ADMIN),
                               json={"channel": "Retail", "amount": "5.00"})
    assert resp.status_code == 201 and resp.json()["channel_forecasts"][0]["recorded_by"] == str(ADMIN)
    since = len(await outbox_rows(forecast.runtime))
    resp = await forecast.post(f"/v1/forecasts/{top['id']}/publish", headers=as_(ADMIN))
    assert resp.status_code == 200 and resp.json()["status"] == "published"
    [event] = await new_events(forecast, since)
    assert event["type"] == "kam.forecast.published.v1" and event["data"]["published_by"] == str(ADMIN)
    async with nothing_written(forecast):  # only once per record and period
        problem(await forecast.post(f"/v1/forecasts/{top['id']}/publish", headers=as_(OUTSIDER)), 409)


# ================================================================== who may see and change what
async def test_someone_elses_record_is_404_unless_you_see_it_and_403_if_you_do(forecast):
    await opportunities(forecast, Opp(REP, "1000.00", dt.date(2027, 2, 2)))
    record = (await create(forecast, REP, "2027-02")).json()
    rid = record["id"]
    adjustment = {"amount_delta": "1.00", "reason": "because"}
    async with nothing_written(forecast):
        for stranger in (REP2, OUTSIDER):  # a peer, someone in another chain
            assert problem(await forecast.get(f"/v1/forecasts/{rid}", headers=as_(stranger)), 404)
            problem(await forecast.get(f"/v1/forecasts/{rid}/versions", headers=as_(stranger)), 404)
            problem(await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=adjustment, headers=as_(stranger)),
                    404)
            problem(await forecast.post(f"/v1/forecasts/{rid}/submit", headers=as_(stranger)), 404)
        body = problem(await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=adjustment, headers=as_(MANAGER)),
                       403)
        assert "your own record" in body["detail"]
        problem(await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=adjustment, headers=as_(HEAD)), 403)
        problem(await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=adjustment, headers=as_(ADMIN)), 403)
        problem(await forecast.post(f"/v1/forecasts/{rid}/submit", headers=as_(MANAGER)), 403)  # for someone else
        problem(await forecast.post(f"/v1/forecasts/{rid}/refresh", headers=as_(MANAGER)), 403)
        problem(await forecast.post(f"/v1/forecasts/{rid}/publish", headers=as_(MANAGER)), 403)
        problem(await forecast.get(f"/v1/forecasts/{uuid.uuid4()}", headers=as_(ADMIN)), 404)
    for viewer in (REP, MANAGER, HEAD, ADMIN):  # the owner, everyone above, admins
        assert (await forecast.get(f"/v1/forecasts/{rid}", headers=as_(viewer))).status_code == 200
    # Lists show only what you may see.
    assert rid not in [r["id"] for r in (await forecast.get("/v1/forecasts", headers=as_(REP2))).json()["items"]]
    mine = (await forecast.get("/v1/forecasts", params={"owner": str(REP), "period": "2027-02"},
                               headers=as_(HEAD))).json()
    assert [r["id"] for r in mine["items"]] == [rid]


async def test_the_list_pages_with_a_cursor(forecast):
    for period in ("2030-01", "2030-02", "2030-03"):
        assert (await create(forecast, REP2, period)).status_code == 201
    seen, cursor = [], None
    while True:
        page = (await forecast.get("/v1/forecasts", params={"owner": str(REP2), "limit": 1, **(
            {"cursor": cursor} if cursor else {})}, headers=as_(MANAGER))).json()
        seen += [r["period"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert {"2030-01", "2030-02", "2030-03"} <= set(seen) and len(seen) == len(set(r for r in seen))
    problem(await forecast.get("/v1/forecasts", params={"cursor": "!!"}, headers=as_(REP2)), 422)


# ================================================================== bad input
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(forecast):
    await opportunities(forecast, Opp(REP2, "500.00", dt.date(2027, 5, 5)))
    rid = (await create(forecast, REP2, "2027-05")).json()["id"]
    url = f"/v1/forecasts/{rid}/adjustments"
    async with nothing_written(forecast):
        for period in ("2026-Q7", "soon", "2026-13"):
            assert problem(await create(forecast, REP2, period), 422)["field"] == "period"
        assert problem(await create(forecast, REP2, "2027-05", currency="XYZ"), 422)["field"] == "currency"
        assert problem(await forecast.put("/v1/forecast-principles/2026-Q9", json={}, headers=as_(ADMIN)),
                       422)["field"] == "period"
        resp = await forecast.get("/v1/forecast-accuracy", params={"node": str(REP2), "period": "Q4"},
                                  headers=as_(REP2))
        assert problem(resp, 422)["field"] == "period"
        assert "period" in problem(await forecast.get("/v1/forecasts", params={"period": "x"}, headers=as_(REP2)),
                                   422)["detail"]
        for body, field in (({"amount_delta": "10.00"}, "reason"),
                            ({"amount_delta": "10.00", "reason": "   "}, "reason"),
                            ({"category": "closed", "amount_delta": "1.00", "reason": "r"}, "category"),
                            ({"amount_delta": "1.005", "reason": "r"}, "amount_delta"),
                            ({"amount": "-1.00", "reason": "r"}, "amount"),
                            ({"amount_delta": "1.00", "reason": "r", "reson": "typo"}, "reson")):
            resp = await forecast.post(url, json=body, headers=as_(REP2))
            assert field in [e["field"] for e in problem(resp, 422)["errors"]], (body, resp.text)
        for body, field in (({"reason": "r"}, "amount_delta"),  # neither a delta nor an amount
                            ({"amount_delta": "1.00", "amount": "3.00", "reason": "r"}, "amount_delta"),
                            ({"amount_delta": "-500.01", "reason": "r"}, "amount_delta"),  # below zero
                            ({"amount": "500.00", "reason": "r"}, "amount")):  # changes nothing
            assert problem(await forecast.post(url, json=body, headers=as_(REP2)), 422)["field"] == field, body
        problem(await forecast.post(url, content=b"{not json",
                                    headers={**as_(REP2), "content-type": "application/json"}), 400)
        problem(await forecast.post("/v1/forecasts/not-a-uuid/submit", headers=as_(REP2)), 422)
        problem(await forecast.post(f"/v1/forecasts/{uuid.uuid4()}/submit", headers=as_(REP2)), 404)
        problem(await forecast.post(f"/v1/forecasts/{rid}/channel-forecasts", json={"channel": " ", "amount": "1"},
                                    headers=as_(REP2)), 422)


async def test_a_stale_if_match_is_412_and_the_etag_moves_with_each_version(forecast):
    await opportunities(forecast, Opp(REP, "800.00", dt.date(2027, 6, 6)))
    created = await create(forecast, REP, "2027-06")
    rid = created.json()["id"]
    body = {"amount_delta": "-100.00", "reason": "customer budget cut"}
    ok = await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=body, headers={**as_(REP), "If-Match": '"1"'})
    assert ok.status_code == 201 and ok.headers["ETag"] == '"2"'
    async with nothing_written(forecast):
        stale = await forecast.post(f"/v1/forecasts/{rid}/adjustments", json=body,
                                    headers={**as_(REP), "If-Match": created.headers["ETag"]})
        assert problem(stale, 412)["current_version"] == 2
        problem(await forecast.post(f"/v1/forecasts/{rid}/submit", headers={**as_(REP), "If-Match": '"1"'}), 412)
    assert (await forecast.get(f"/v1/forecasts/{rid}", headers=as_(REP))).headers["ETag"] == '"2"'


# ================================================================== history
async def test_versions_are_immutable_and_say_who_when_why(forecast):
    await opportunities(forecast, Opp(REP, "9000.00", dt.date(2027, 1, 9)), Opp(REP, "4000.00", dt.date(2027, 1, 9),
                                                                               stage=4))
    rid = (await create(forecast, REP, "2027-01")).json()["id"]
    await forecast.post(f"/v1/forecasts/{rid}/adjustments", headers=as_(REP),
                        json={"amount": "6000.00", "reason": "tender postponed to February"})
    await forecast.post(f"/v1/forecasts/{rid}/submit", headers=as_(REP))
    history = (await forecast.get(f"/v1/forecasts/{rid}/versions", headers=as_(MANAGER))).json()["items"]
    assert [(v["number"], v["kind"]) for v in history] == [(1, "prefill"), (2, "adjustment"), (3, "submission")]
    assert all(v["by"] == str(REP) for v in history)
    times = [dt.datetime.fromisoformat(v["at"]) for v in history]
    assert times == sorted(times)
    assert history[0]["figures"]["commit"] == "9000.00" and history[0]["reason"] is None
    assert history[1]["reason"] == "tender postponed to February"
    assert history[1]["adjustment"] == {"category": "commit", "amount_before": "9000.00", "amount_after": "6000.00",
                                        "delta": "-3000.00"}
    assert history[1]["figures"]["commit"] == "6000.00"
    assert history[2]["submitted_to"] == str(MANAGER) and history[2]["figures"]["commit"] == "6000.00"

    # Later changes add versions; the earlier ones read exactly as before.
    await forecast.post(f"/v1/forecasts/{rid}/adjustments", headers=as_(REP),
                        json={"category": "best_case", "amount_delta": "500.00", "reason": "upsell"})
    later = (await forecast.get(f"/v1/forecasts/{rid}/versions", headers=as_(REP))).json()["items"]
    assert later[:3] == history and later[3]["kind"] == "adjustment"
    one = (await forecast.get(f"/v1/forecasts/{rid}/versions/2", headers=as_(REP))).json()
    assert one == history[1]
    problem(await forecast.get(f"/v1/forecasts/{rid}/versions/99", headers=as_(REP)), 404)
    # The record says what the superior has (version 3) beside the current draft (version 4).
    record = (await forecast.get(f"/v1/forecasts/{rid}", headers=as_(REP))).json()
    assert record["status"] == "draft" and record["version"] == 4
    assert record["last_submitted"]["version"] == 3 and record["last_submitted"]["figures"]["best_case"] == "4000.00"

    # And the database itself refuses to rewrite or delete a version.
    for statement in (update(forecast_versions).values(reason="rewritten").where(
            forecast_versions.c.record_id == uuid.UUID(rid)),
                      text("DELETE FROM forecast_versions")):
        async with forecast.runtime.db.session() as session:
            with pytest.raises(DBAPIError, match="immutable"):
                await session.execute(statement)
            await session.rollback()


# ================================================================== refresh
async def test_refresh_takes_in_later_submissions_and_keeps_adjustments(forecast):
    jul = dt.date(2027, 7, 7)
    await opportunities(forecast, Opp(REP, "1000.00", jul), Opp(REP2, "2000.00", jul), Opp(MANAGER, "300.00", jul))
    for rep in (REP, REP2):
        rid = (await create(forecast, rep, "2027-07")).json()["id"]
        if rep == REP:
            await forecast.post(f"/v1/forecasts/{rid}/submit", headers=as_(REP))
        else:
            rep2_record = rid
    mgr = (await create(forecast, MANAGER, "2027-07")).json()
    assert mgr["figures"]["commit"] == "1300.00" and mgr["missing"] == [str(REP2)]
    await forecast.post(f"/v1/forecasts/{mgr['id']}/adjustments", headers=as_(MANAGER),
                        json={"amount_delta": "-200.00", "reason": "REP's deal looks shaky"})
    await forecast.post(f"/v1/forecasts/{rep2_record}/submit", headers=as_(REP2))
    before = (await forecast.get(f"/v1/forecasts/{mgr['id']}", headers=as_(MANAGER))).json()
    assert before["newer_child_submissions"] == [str(REP2)] and before["figures"]["commit"] == "1100.00"
    since = len(await outbox_rows(forecast.runtime))
    resp = await forecast.post(f"/v1/forecasts/{mgr['id']}/refresh", headers=as_(MANAGER))
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert after["figures"]["commit"] == "3100.00" and after["adjustments"] == {"commit": "-200.00"}
    assert after["missing"] == [] and after["newer_child_submissions"] == [] and after["version"] == 3
    [event] = await new_events(forecast, since)
    assert event["type"] == "kam.forecast.refreshed.v1" and event["data"]["figures_before"]["commit"] == "1100.00"
    async with nothing_written(forecast):  # nothing new to pull: no version
        again = await forecast.post(f"/v1/forecasts/{mgr['id']}/refresh", headers=as_(MANAGER))
        assert again.status_code == 200 and again.json()["version"] == 3


# ================================================================== principles
async def test_principles_default_then_an_admin_sets_what_counts(forecast):
    default = await forecast.get("/v1/forecast-principles/2031-Q3", headers=as_(REP))
    assert default.status_code == 200 and default.headers["ETag"] == '"0"'
    assert default.json()["counted_categories"] == ["commit", "closed"]
    assert default.json()["upside_categories"] == ["best_case"] and default.json()["version"] == 0
    body = {"counted_categories": ["closed", "commit", "best_case"], "upside_categories": ["pipeline"],
            "due_date": (dt.date.today() - dt.timedelta(days=1)).isoformat(), "note": "Q3: best case counts"}
    async with nothing_written(forecast):
        problem(await forecast.put("/v1/forecast-principles/2031-Q3", json=body, headers=as_(MANAGER)), 403)
        bad = {**body, "counted_categories": ["commit", "omitted"]}
        assert problem(await forecast.put("/v1/forecast-principles/2031-Q3", json=bad, headers=as_(ADMIN)),
                       422)["field"] == "counted_categories"
        both = {**body, "upside_categories": ["best_case"]}
        assert problem(await forecast.put("/v1/forecast-principles/2031-Q3", json=both, headers=as_(ADMIN)),
                       422)["field"] == "upside_categories"
    resp = await forecast.put("/v1/forecast-principles/2031-q3", json=body, headers={**as_(ADMIN), "If-Match": '"0"'})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"', resp.text
    assert resp.json()["period"] == "2031-Q3"
    assert resp.json()["counted_categories"] == ["best_case", "commit", "closed"]
    problem(await forecast.put("/v1/forecast-principles/2031-Q3", json=body, headers={**as_(ADMIN), "If-Match": '"0"'}),
            412)
    # The same months under a fiscal label (fiscal year from January) are the same principles.
    fiscal = (await forecast.get("/v1/forecast-principles/FY2031-Q3", headers=as_(REP))).json()
    assert fiscal["version"] == 1 and fiscal["counted_categories"] == ["best_case", "commit", "closed"]

    sep = dt.date(2031, 9, 9)
    await opportunities(forecast, Opp(REP2, "100.00", sep), Opp(REP2, "20.00", sep, stage=4),
                        Opp(REP2, "3.00", sep, stage=1))
    record = (await create(forecast, REP2, "2031-Q3")).json()
    assert record["forecast_amount"] == "120.00" and record["upside_amount"] == "3.00"
    assert record["counted_categories"] == ["best_case", "commit", "closed"]
    resp = await forecast.post(f"/v1/forecasts/{record['id']}/submit", headers=as_(REP2))
    history = (await forecast.get(f"/v1/forecasts/{record['id']}/versions", headers=as_(REP2))).json()["items"]
    assert history[-1]["late"] is True  # after the due date: accepted, marked late


# ================================================================== accuracy
async def test_accuracy_compares_the_last_submitted_forecast_with_closed_won(forecast):
    may = dt.date(2025, 5, 5)  # a period that has ended: final figures
    rep_deal = Opp(REP, "100000.00", may)
    rep_unconfirmed_win = Opp(REP, "25000.00", may, confirmed=False)
    rep2_win = Opp(REP2, "50000.00", may)
    await opportunities(forecast, rep_deal, rep_unconfirmed_win, rep2_win)
    rep_record = (await create(forecast, REP, "2025-Q2")).json()
    await forecast.post(f"/v1/forecasts/{rep_record['id']}/submit", headers=as_(REP))
    mgr = (await create(forecast, MANAGER, "2025-Q2")).json()
    await forecast.post(f"/v1/forecasts/{mgr['id']}/submit", headers=as_(MANAGER))
    # After submitting, the deals close: actuals move, submitted forecasts do not.
    await opportunities(forecast, won=[rep_deal, rep_unconfirmed_win, rep2_win])

    resp = await forecast.get("/v1/forecast-accuracy", params={"node": str(MANAGER), "period": "2025-Q2"},
                              headers=as_(MANAGER))
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["final"] is True and "max(forecast, actual)" in report["formula"]
    rows = {r["owner_id"]: r for r in report["people"]}
    assert list(rows) == [str(MANAGER), str(REP)]  # REP2 did not submit
    assert rows[str(REP)]["forecast_amount"] == "100000.00" and rows[str(REP)]["actual_won"] == "125000.00"
    assert rows[str(REP)]["difference"] == "25000.00" and rows[str(REP)]["accuracy_pct"] == "80.00"
    assert rows[str(MANAGER)]["forecast_amount"] == "100000.00" and rows[str(MANAGER)]["actual_won"] == "175000.00"
    assert rows[str(MANAGER)]["accuracy_pct"] == "57.14" and rows[str(MANAGER)]["depth"] == 0
    rollup = (await forecast.get("/v1/rollups", params={"node": str(MANAGER), "period": "2025-Q2"},
                                 headers=as_(MANAGER))).json()
    assert rows[str(MANAGER)]["actual_won"] == rollup["won_amount"]  # the subtree's closed-won

    future = (await forecast.get("/v1/forecast-accuracy", params={"node": str(REP), "period": "2099-Q1"},
                                 headers=as_(REP))).json()
    assert future["final"] is False and future["people"] == []
    problem(await forecast.get("/v1/forecast-accuracy", params={"node": str(MANAGER), "period": "2025-Q2"},
                               headers=as_(REP)), 404)


# ================================================================== schema
async def test_0006_downgrades_and_upgrades_again():
    from alembic import command
    from sqlalchemy import JSON, Date, Integer, String, Uuid, column, insert, inspect, pool, table
    from sqlalchemy.ext.asyncio import create_async_engine

    from kam_shared.migrations import alembic_config
    from kam_shared.services import SERVICES
    from kam_shared.tables import UtcDateTime
    from kam_shared.testing import fresh_database

    async def alembic(url, fn, revision):
        cfg = alembic_config(SERVICES["forecast-svc"].dir, url)
        engine = create_async_engine(url, poolclass=pool.NullPool)

        def run(connection):
            cfg.attributes["connection"] = connection
            fn(cfg, revision)

        async with engine.begin() as conn:
            await conn.run_sync(run)
        tables = None
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        await engine.dispose()
        return tables

    mine = {"forecast_principles", "forecast_records", "forecast_versions"}
    async with fresh_database("forecast-0006") as url:
        assert mine <= await alembic(url, command.upgrade, "head")
        assert not mine & await alembic(url, command.downgrade, "0005")
        assert mine <= await alembic(url, command.upgrade, "head")

    # 0010 keys principles by the period's dates: rows set under a label get their dates; and
    # records held twice for the same months under two labels stop the migration with a reason.
    async with fresh_database("forecast-0010") as url:
        await alembic(url, command.upgrade, "0009")
        engine = create_async_engine(url, poolclass=pool.NullPool)
        now, who = utcnow(), uuid.uuid4()
        principles_0009 = table("forecast_principles", column("period", String), column("counted_categories", JSON),
                                column("upside_categories", JSON), column("version", Integer),
                                column("updated_by", Uuid), column("updated_at", UtcDateTime()))
        records_0009 = table("forecast_records", *(column(c, t) for c, t in (
            ("id", Uuid), ("owner_id", Uuid), ("period", String), ("period_start", Date), ("period_end", Date),
            ("currency", String), ("status", String), ("version", Integer), ("created_at", UtcDateTime()),
            ("updated_at", UtcDateTime()))))
        async with engine.begin() as conn:
            await conn.execute(insert(principles_0009).values(
                period="FY2027-Q2", counted_categories=["commit"], upside_categories=[], version=1, updated_by=who,
                updated_at=now))
            await conn.execute(insert(records_0009), [
                dict(id=uuid.uuid4(), owner_id=who, period=label, period_start=dt.date(2027, 4, 1),
                     period_end=dt.date(2027, 7, 1), currency="CNY", status="draft", version=1, created_at=now,
                     updated_at=now) for label in ("2027-Q2", "FY2027-Q2")])
        with pytest.raises(RuntimeError, match="same owner, months and currency"):
            await alembic(url, command.upgrade, "head")
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM forecast_records WHERE period = 'FY2027-Q2'"))
        await alembic(url, command.upgrade, "head")
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT period_start, period_end FROM forecast_principles"))).one()
        await engine.dispose()
        assert [dt.date.fromisoformat(str(d)[:10]) for d in row] == [dt.date(2027, 4, 1), dt.date(2027, 7, 1)]


async def test_the_submission_tables_match_migration_0006(forecast):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from forecast_svc.tables import metadata

    mine = {"forecast_principles", "forecast_records", "forecast_versions"}
    async with forecast.runtime.db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), metadata))

    def table_of(diff):
        diff = diff[0] if isinstance(diff, list) else diff
        for part in diff[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if table is not None:
                return table.name
            if name in mine:
                return name
        return None

    assert [d for d in diffs if table_of(d) in mine] == []
