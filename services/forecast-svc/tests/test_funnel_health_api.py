"""Funnel health over HTTP: daily stage snapshots, norms by hand or derived from them, ratings.

Events come in through the real consumer path; every figure asserted is what a client reads."""
import asyncio
import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import func, select

from forecast_svc.health.models import funnel_norm_stages, funnel_norms, stage_snapshot_days, stage_snapshots
from kam_shared.events import utcnow
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event

ADMIN, DIRECTOR, MANAGER, REP, REP2, OUTSIDER, LEAD, A, B = (uuid.uuid4() for _ in range(9))
ROLE = {ADMIN: "admin", DIRECTOR: "manager", MANAGER: "manager", LEAD: "manager"}


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(ADMIN, "admin", None), user_event(DIRECTOR, "manager", None),
                   user_event(MANAGER, "manager", DIRECTOR), user_event(REP, "rep", MANAGER),
                   user_event(REP2, "rep", MANAGER), user_event(OUTSIDER, "rep", None),
                   user_event(LEAD, "manager", None), user_event(A, "rep", LEAD), user_event(B, "rep", LEAD))
        yield client


def auth(who):
    return bearer(who, ROLE.get(who, "rep"))


async def health(client, node, period, who=None, **params):
    return await client.get("/v1/funnel-health", params={"node": str(node), "period": period, **params},
                            headers=auth(who or node))


async def put_norm(client, node, period, stages, who=None, headers=None, **body):
    return await client.put(f"/v1/funnel-norms/{node}/{period}", json={"stages": stages, **body},
                            headers={**auth(who or node), **(headers or {})})


async def derive(client, node, period, who=None, **body):
    return await client.post(f"/v1/funnel-norms/{node}/{period}/derive", json=body, headers=auth(who or node))


async def snapshot_day(client, day):
    resp = await client.post("/v1/admin/stage-snapshots", json={"day": day}, headers=auth(ADMIN))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def written(runtime) -> tuple:
    """Everything this slice writes, counted: compare before and after a refused request."""
    async with runtime.db.session() as session:
        counts = [await session.scalar(select(func.count()).select_from(t))
                  for t in (funnel_norms, funnel_norm_stages, stage_snapshots, stage_snapshot_days)]
    return (*counts, len(await outbox_rows(runtime)))


def stage_norms(**by_stage):
    """stage_norms(s1=("10", "1000.00"), ...) → the PUT body's stages."""
    return [{"stage": int(k[1:]), "count": c, "amount": a} for k, (c, a) in by_stage.items()]


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert mentions in body["detail"] + " " + str(body.get("field", "")), body


async def test_ratings_at_the_70_and_100_percent_boundaries_by_count_and_by_amount(forecast, events):
    Opp = events.Opportunity
    q1 = dt.date(2027, 2, 10)
    flow = []
    for _ in range(7):
        flow += Opp(REP, "100.00", q1).at_stage(1)
    flow += Opp(REP2, "699.00", q1).at_stage(2) + Opp(REP, "1000.00", q1).at_stage(3)
    flow += Opp(REP2, "1001.00", q1).at_stage(4) + Opp(REP, "500.00", q1).at_stage(5)
    flow += Opp(REP, "500.00", q1).at_stage(6)
    # Not counted: another currency, someone outside the subtree, a close date after the period.
    flow += Opp(REP, "5.00", q1, currency="USD").at_stage(1) + Opp(OUTSIDER, "9.00", q1).at_stage(1)
    flow += Opp(REP, "9.00", dt.date(2027, 4, 1)).at_stage(1)
    await feed(forecast.runtime, *flow)
    resp = await put_norm(forecast, MANAGER, "2027-Q1", stage_norms(
        s1=("10", "1000.00"), s2=("1.43", "1000.00"), s3=("1", "1000.00"), s4=("0.99", "1000.00"),
        s6=("0", "0.00"), s7=("2", "100.00")))
    assert resp.status_code == 200, resp.text

    body = (await health(forecast, MANAGER, "2027-Q1")).json()
    assert (body["norm_source"], body["norm_version"], body["currency"], body["other_currencies"]) == \
        ("manual", 1, "CNY", ["USD"])
    rows = {s["stage"]: s for s in body["stages"]}
    seen = {s: (r["count"], r["amount"], r["norm_count"], r["norm_amount"], r["ratio_by_count"],
                r["rating_by_count"], r["ratio_by_amount"], r["rating_by_amount"]) for s, r in rows.items()}
    assert seen == {
        1: (7, "700.00", "10.00", "1000.00", "70.0", "good", "70.0", "good"),
        2: (1, "699.00", "1.43", "1000.00", "69.9", "warning", "69.9", "warning"),
        3: (1, "1000.00", "1.00", "1000.00", "100.0", "good", "100.0", "good"),
        4: (1, "1001.00", "0.99", "1000.00", "101.0", "excellent", "100.1", "excellent"),
        5: (1, "500.00", None, None, None, None, None, None),  # no norm for the stage
        6: (1, "500.00", "0.00", "0.00", None, None, None, None),  # a zero norm: no ratio
        7: (0, "0.00", "2.00", "100.00", "0.0", "warning", "0.0", "warning"),
    }
    # The whole funnel: the stages with a norm, summed (11 / 15.42 and 3900 / 4100).
    overall = body["overall"]
    assert (overall["count"], overall["norm_count"], overall["ratio_by_count"], overall["rating_by_count"]) == \
        (11, "15.42", "71.3", "good")
    assert (overall["amount"], overall["norm_amount"], overall["ratio_by_amount"], overall["rating_by_amount"]) == \
        ("3900.00", "4100.00", "95.1", "good")
    assert body["overall_rating"] == "good"

    # The director's subtree holds the same pipeline but has no norm: 200, every norm and rating null.
    director = (await health(forecast, DIRECTOR, "2027-Q1")).json()
    assert director["norm_source"] is None and director["norm_version"] is None
    assert director["stages"][0]["count"] == 7 and director["overall_rating"] is None
    assert all(s["norm_count"] is None and s["rating_by_count"] is None and s["rating_by_amount"] is None
               for s in director["stages"])
    # A rep reads their own funnel.
    own = await health(forecast, REP, "2027-Q1")
    assert own.status_code == 200 and own.json()["stages"][0]["count"] == 7


async def test_a_rep_may_not_set_norms_and_a_refusal_writes_nothing(forecast):
    before = await written(forecast.runtime)
    assert_problem(await put_norm(forecast, REP, "2027-Q2", stage_norms(s1=("1", "1.00"))), 403, "manager")
    assert_problem(await derive(forecast, REP, "2027-Q2"), 403, "manager")
    # Someone else's node is not even visible to a rep.
    assert_problem(await put_norm(forecast, MANAGER, "2027-Q2", stage_norms(s1=("1", "1.00")), who=REP), 404,
                   "not found")
    assert await written(forecast.runtime) == before
    assert (await forecast.get(f"/v1/funnel-norms/{REP}/2027-Q2", headers=auth(REP))).status_code == 404


async def test_a_manager_sets_norms_in_their_subtree_only_and_an_admin_anywhere(forecast):
    body = stage_norms(s2=("3", "300.00"))
    assert (await put_norm(forecast, MANAGER, "2027-Q2", body)).status_code == 200
    assert (await put_norm(forecast, REP, "2027-Q2", body, who=MANAGER)).status_code == 200
    assert_problem(await put_norm(forecast, OUTSIDER, "2027-Q2", body, who=MANAGER), 404, "not found")
    assert_problem(await put_norm(forecast, DIRECTOR, "2027-Q2", body, who=MANAGER), 404, "not found")
    assert (await put_norm(forecast, OUTSIDER, "2027-Q2", body, who=ADMIN)).status_code == 200
    norm = (await forecast.get(f"/v1/funnel-norms/{REP}/2027-Q2", headers=auth(REP))).json()
    assert norm["set_by"] == str(MANAGER) and norm["stages"] == [{"stage": 2, "count": "3.00", "amount": "300.00"}]


async def test_unknown_nodes_are_404(forecast):
    ghost = uuid.uuid4()
    before = await written(forecast.runtime)
    assert_problem(await health(forecast, ghost, "2027-Q1", who=DIRECTOR), 404, "not found")
    assert_problem(await forecast.get(f"/v1/funnel-norms/{ghost}/2027-Q1", headers=auth(ADMIN)), 404, "not found")
    assert_problem(await put_norm(forecast, ghost, "2027-Q1", stage_norms(s1=("1", "1.00")), who=ADMIN), 404,
                   "not found")
    assert_problem(await derive(forecast, ghost, "2027-Q1", who=ADMIN), 404, "not found")
    assert await written(forecast.runtime) == before


@pytest.mark.parametrize("call, status, mentions", [
    (lambda c: health(c, MANAGER, "2027-Q5"), 422, "period"),
    (lambda c: health(c, MANAGER, "someday"), 422, "period"),
    (lambda c: health(c, MANAGER, "2027-Q1", currency="XYZ"), 422, "currency"),
    (lambda c: c.get("/v1/funnel-health", params={"node": str(MANAGER)}, headers=auth(MANAGER)), 422, "period"),
    (lambda c: c.get("/v1/funnel-health", params={"node": "me", "period": "2027-Q1"}, headers=auth(MANAGER)), 422,
     "node"),
    (lambda c: put_norm(c, MANAGER, "2027-13", stage_norms(s1=("1", "1.00"))), 422, "period"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", stage_norms(s1=("1", "1.00")), currency="EURO"), 422, "currency"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", []), 422, "stages"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", stage_norms(s1=("1", "1.00")) * 2), 422, "stages"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", stage_norms(s8=("1", "1.00"))), 422, "stages.0.stage"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", stage_norms(s1=("1", "-1.00"))), 422, "stages.0.amount"),
    (lambda c: put_norm(c, MANAGER, "2027-Q3", stage_norms(s1=("1.005", "1.00"))), 422, "stages.0.count"),
    (lambda c: derive(c, MANAGER, "Q3-2027"), 422, "period"),
    (lambda c: derive(c, MANAGER, "2027-Q3", from_periods=["last year"]), 422, "from_periods"),
])
async def test_bad_input_is_422_naming_the_field_and_writes_nothing(forecast, call, status, mentions):
    before = await written(forecast.runtime)
    assert_problem(await call(forecast), status, mentions)
    assert await written(forecast.runtime) == before


async def test_norms_are_versioned_published_and_guarded_by_if_match(forecast):
    url = f"/v1/funnel-norms/{MANAGER}/2027-Q4"
    first = await put_norm(forecast, MANAGER, "2027-Q4", stage_norms(s1=("4", "4000.00")))
    assert first.status_code == 200 and first.headers["etag"] == '"1"'
    events = [r for r in await outbox_rows(forecast.runtime) if r["message_key"] == first.json()["norm_id"]]
    assert [e["event_type"] for e in events] == ["kam.forecast.funnel_norm_set.v1"]
    event = json.loads(events[0]["payload"])
    assert event["sequence"] == 1 and event["subject"] == first.json()["norm_id"]
    assert event["data"]["source"] == "manual" and event["data"]["node_id"] == str(MANAGER)
    assert event["data"]["stages"] == [{"stage": 1, "count": "4.00", "amount": "4000.00"}]

    # The same norm again (a retry) is no new version and no new event.
    again = await put_norm(forecast, MANAGER, "2027-Q4", stage_norms(s1=("4.00", "4000")))
    assert again.json()["version"] == 1
    second = await put_norm(forecast, MANAGER, "2027-Q4", stage_norms(s1=("5", "5000.00")), headers={"If-Match": '"1"'})
    assert second.status_code == 200 and second.json()["version"] == 2
    before = await written(forecast.runtime)
    lost_update = await put_norm(forecast, MANAGER, "2027-Q4", stage_norms(s1=("6", "6.00")),
                                 headers={"If-Match": '"1"'})
    assert_problem(lost_update, 412, "version 2")
    assert await written(forecast.runtime) == before

    current = await forecast.get(url, headers=auth(MANAGER))
    assert current.headers["etag"] == '"2"' and current.json()["stages"][0]["count"] == "5.00"
    # With calendar fiscal years FY2027-Q4 names the same months: the same norm.
    assert (await forecast.get(f"/v1/funnel-norms/{MANAGER}/FY2027-Q4", headers=auth(MANAGER))).json()["version"] == 2
    history = (await forecast.get(f"{url}/versions", headers=auth(MANAGER))).json()
    assert [(v["version"], v["stages"][0]["amount"], v["set_by"]) for v in history] == \
        [(2, "5000.00", str(MANAGER)), (1, "4000.00", str(MANAGER))]
    other_currency = await forecast.get(url, params={"currency": "USD"}, headers=auth(MANAGER))
    assert_problem(other_currency, 404, "no funnel norm")


async def test_a_norm_derived_from_daily_snapshots_of_past_periods(forecast, events):
    """Target 2025-Q1; the default basis is 2024-Q4..Q1, of which only Q4 (3 snapshot days) and Q3
    (1 day) have snapshots. Each period's mean daily pipeline closing in it, then the average."""
    Opp = events.Opportunity
    x, y = Opp(A, "1000.00", dt.date(2024, 11, 15)), Opp(B, "3000.00", dt.date(2024, 12, 20))
    z = Opp(A, "2000.00", dt.date(2024, 8, 10))
    await feed(forecast.runtime, *x.at_stage(2), *y.at_stage(2), *z.at_stage(5),
               *Opp(A, "999.00", dt.date(2025, 2, 1)).at_stage(1),  # closes in the target itself
               *Opp(A, "77.00", dt.date(2024, 11, 20), currency="USD").at_stage(2),  # another currency
               *Opp(OUTSIDER, "55.00", dt.date(2024, 11, 1)).at_stage(2))  # another subtree
    await snapshot_day(forecast, "2024-09-30")  # Q3: z in stage 5
    await snapshot_day(forecast, "2024-10-01")  # Q4: x, y in stage 2
    await feed(forecast.runtime, x.move(4))
    await snapshot_day(forecast, "2024-10-02")  # Q4: y in 2, x in 4
    first = await snapshot_day(forecast, "2024-10-03")
    await feed(forecast.runtime, y.move(4))
    retaken = await snapshot_day(forecast, "2024-10-03")  # re-taking a day replaces it: x, y in 4
    assert retaken["replaced_rows"] == first["rows"] > 0

    resp = await derive(forecast, LEAD, "2025-Q1")
    assert resp.status_code == 200, resp.text
    norm = resp.json()
    assert (norm["source"], norm["version"], norm["set_by"]) == ("derived", 1, str(LEAD))
    assert [(b["period"], b["snapshot_days"]) for b in norm["from_periods"]] == \
        [("2024-Q4", 3), ("2024-Q3", 1), ("2024-Q2", 0), ("2024-Q1", 0)]
    # Q4 per day: stage 2 (2, 4000) (1, 3000) (0, 0); stage 4 (0, 0) (1, 1000) (2, 4000). Q3: stage 5 (1, 2000).
    assert {s["stage"]: (s["count"], s["amount"]) for s in norm["stages"]} == {
        1: ("0.00", "0.00"), 2: ("0.50", "1166.67"), 3: ("0.00", "0.00"), 4: ("0.50", "833.33"),
        5: ("0.50", "1000.00"), 6: ("0.00", "0.00"), 7: ("0.00", "0.00")}

    only_q4 = (await derive(forecast, LEAD, "2025-Q1", from_periods=["2024-Q4"])).json()
    assert only_q4["version"] == 2 and only_q4["from_periods"] == [{"period": "2024-Q4", "snapshot_days": 3}]
    assert {s["stage"]: (s["count"], s["amount"]) for s in only_q4["stages"] if s["count"] != "0.00"} == {
        2: ("1.00", "2333.33"), 4: ("1.00", "1666.67")}
    # A's own subtree: only x (stage 2, 2 of 3 days... then stage 4).
    rep_norm = (await derive(forecast, A, "2025-Q1", who=LEAD, from_periods=["2024-Q4"])).json()
    assert {s["stage"]: (s["count"], s["amount"]) for s in rep_norm["stages"] if s["count"] != "0.00"} == {
        2: ("0.33", "333.33"), 4: ("0.67", "666.67")}

    # funnel health now rates the target period against the derived norm.
    body = (await health(forecast, LEAD, "2025-Q1")).json()
    assert body["norm_source"] == "derived" and body["norm_version"] == 2
    assert body["stages"][0]["count"] == 1 and body["stages"][0]["ratio_by_count"] is None  # norm 0: no ratio


@pytest.mark.parametrize("body, mentions", [
    ({}, "no daily stage snapshots"),  # 2023's quarters were never snapshotted
    ({"from_periods": ["2022-Q4"]}, "no daily stage snapshots"),
    ({"from_periods": ["2022-11"]}, "month(s) long"),
    ({"from_periods": ["2024-Q1"]}, "does not end before"),
    ({"from_periods": []}, "at least one"),
])
async def test_a_derivation_with_nothing_to_derive_from_is_422_and_writes_nothing(forecast, body, mentions):
    before = await written(forecast.runtime)
    resp = await derive(forecast, LEAD, "2024-Q1", **body)
    assert_problem(resp, 422, mentions)
    assert resp.json()["field"] == "from_periods"
    assert await written(forecast.runtime) == before


async def test_snapshots_are_taken_by_an_admin_for_today_or_a_past_day(forecast):
    before = await written(forecast.runtime)
    assert_problem(await forecast.post("/v1/admin/stage-snapshots", headers=auth(MANAGER)), 403, "admin")
    tomorrow = (utcnow().date() + dt.timedelta(days=1)).isoformat()
    assert_problem(await forecast.post("/v1/admin/stage-snapshots", json={"day": tomorrow}, headers=auth(ADMIN)),
                   422, "day")
    assert_problem(await forecast.post("/v1/admin/stage-snapshots", json={"day": "2025-02-30"},
                                       headers=auth(ADMIN)), 422, "day")
    assert await written(forecast.runtime) == before
    today = await forecast.post("/v1/admin/stage-snapshots", headers=auth(ADMIN))
    assert today.status_code == 200 and today.json()["day"] == utcnow().date().isoformat()
    assert today.json()["rows"] > 0 and today.json()["taken_by"] == str(ADMIN)
    page = (await forecast.get("/v1/admin/stage-snapshots", params={"limit": 2}, headers=auth(ADMIN))).json()
    assert page["items"][0]["day"] == utcnow().date().isoformat() and page["next_cursor"]
    rest = (await forecast.get("/v1/admin/stage-snapshots", params={"cursor": page["next_cursor"]},
                               headers=auth(ADMIN))).json()
    days = [d["day"] for d in page["items"] + rest["items"]]
    assert days == sorted(days, reverse=True) and "2024-09-30" in days and len(days) == len(set(days))


async def test_the_background_task_takes_todays_snapshot_when_workers_run():
    async with service_client("forecast-svc", run_background_workers=True) as client:
        for _ in range(100):
            async with client.runtime.db.session() as session:
                days = (await session.scalars(select(stage_snapshot_days.c.day))).all()
            if days:
                break
            await asyncio.sleep(0.05)
        assert days == [utcnow().date()]
        assert "stage-snapshots" in [t.get_name() for t in client.runtime.tasks]
