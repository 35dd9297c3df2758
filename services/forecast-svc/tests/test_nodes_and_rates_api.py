"""forecast-svc: org units and territories as roll-up nodes, and roll-ups converted at dated
exchange rates (events in through the real consumer path and database, HTTP out)."""
import asyncio
import datetime as dt
import random
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from forecast_svc.rollups.models import account_profiles, rollup_cells
from forecast_svc.rollups.repository import RollupRepository
from kam_shared.events import (
    DomainEvent,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityState,
    UserCreated,
    UserState,
    UserUpdated,
    utcnow,
)
from kam_shared.events.account import AccountCreated, AccountState, AccountUpdated
from kam_shared.events.team import (
    OrgUnitCreated,
    OrgUnitMoved,
    OrgUnitState,
    TerritoryCreated,
    TerritoryRuleState,
    TerritoryState,
    TerritoryUpdated,
)
from kam_shared.testing import bearer, feed, outbox_rows, service_client

ADMIN = uuid.uuid4()
COMPANY, BU, TEAM_N, TEAM_S, OTHER_BU = (uuid.uuid4() for _ in range(5))
DIRECTOR, MGR_N, REP_N, REP_S, OUTSIDER = (uuid.uuid4() for _ in range(5))


def user(uid, role, superior, unit, version=1):
    state = UserState(id=uid, email=f"{uid.hex[:8]}@t.example", name=f"u {uid.hex[:4]}", role=role,
                      superior_id=superior, version=version, org_unit_id=unit)
    data = UserCreated(user=state) if version == 1 else UserUpdated(user=state)
    kind = "kam.team.user_created.v1" if version == 1 else "kam.team.user_updated.v1"
    return DomainEvent(kind, uid, version, data).to_cloudevent("/kam/team-svc")


def unit(uid, parent, manager=None, kind="team", version=1):
    state = OrgUnitState(id=uid, name=f"unit {uid.hex[:4]}", kind=kind, parent_id=parent, company_id=COMPANY,
                         manager_id=manager, version=version)
    if version == 1:
        return DomainEvent("kam.team.org_unit_created.v1", uid, 1, OrgUnitCreated(org_unit=state)
                           ).to_cloudevent("/kam/team-svc")
    return DomainEvent("kam.team.org_unit_moved.v1", uid, version, OrgUnitMoved(
        org_unit=state, from_parent_id=None, to_parent_id=parent)).to_cloudevent("/kam/team-svc")


def territory(tid, owner, regions, parent=None, version=1, org_unit=None):
    state = TerritoryState(id=tid, name=f"t {tid.hex[:4]}", parent_id=parent, owner_id=owner, org_unit_id=org_unit,
                           version=version, rules=[TerritoryRuleState(id=uuid.uuid5(tid, "r"), name="r", priority=1,
                                                                      regions=regions)] if regions else [])
    payload = TerritoryCreated(territory=state) if version == 1 else TerritoryUpdated(territory=state)
    kind = "created" if version == 1 else "updated"
    return DomainEvent(f"kam.team.territory_{kind}.v1", tid, version, payload).to_cloudevent("/kam/team-svc")


def account(aid, region, version=1):
    state = AccountState(id=aid, name=f"a {aid.hex[:4]}", region=region, version=version)
    payload = AccountCreated(account=state) if version == 1 else AccountUpdated(account=state, changes={})
    kind = "created" if version == 1 else "updated"
    return DomainEvent(f"kam.account.{kind}.v1", aid, version, payload).to_cloudevent("/kam/account-svc")


def opportunity(owner, amount="100.00", close=dt.date(2026, 11, 20), currency="CNY", account_id=None, stage=2,
                version=1, oid=None):
    state = OpportunityState(id=oid or uuid.uuid4(), account_id=account_id or uuid.uuid4(), name="deal",
                             amount=Decimal(amount), currency=currency, close_date=close, owner_id=owner, stage=stage,
                             probability={1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 70, 7: 90}[stage], status="open",
                             version=version, updated_at=utcnow())
    if version == 1:
        return DomainEvent("kam.opportunity.created.v1", state.id, 1, OpportunityCreated(opportunity=state)
                           ).to_cloudevent("/kam/opportunity-svc")
    return DomainEvent("kam.opportunity.stage_changed.v1", state.id, version, OpportunityStageChanged(
        opportunity=state, from_stage=1, to_stage=stage)).to_cloudevent("/kam/opportunity-svc")


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        # company ← BU ← {north team (managed by MGR_N), south team}; OTHER_BU beside BU.
        await feed(client.runtime, unit(COMPANY, None, kind="company"), unit(BU, COMPANY, DIRECTOR, "business_unit"),
                   unit(TEAM_N, BU, MGR_N), unit(TEAM_S, BU), unit(OTHER_BU, COMPANY, kind="business_unit"),
                   user(DIRECTOR, "manager", None, BU), user(MGR_N, "manager", DIRECTOR, TEAM_N),
                   user(REP_N, "rep", MGR_N, TEAM_N), user(REP_S, "rep", DIRECTOR, TEAM_S),
                   user(OUTSIDER, "manager", None, OTHER_BU))
        yield client


async def rollup(client, node, who=ADMIN, role="admin", period="2026-Q4", **params):
    return await client.get("/v1/rollups", params={"node": str(node), "period": period, **params},
                            headers=bearer(who, role))


async def live_equals_recomputed(client) -> None:
    """Every node's live cells (users, org units, territories) equal a recomputation from scratch."""
    async with client.runtime.db.session() as session, session.begin():
        live = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all() if any(r[7:])}
        await session.execute(delete(rollup_cells))
        repo = RollupRepository(session)
        await repo.recompute(client.runtime.tables.user_replica)
        await repo.rematch_coverage(account_profiles)
        rebuilt = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all()
                   if any(r[7:])}
        await session.rollback()
    assert live == rebuilt


async def test_an_org_unit_rolls_up_every_user_in_it_or_below_each_opportunity_once(forecast):
    await feed(forecast.runtime, opportunity(REP_N, "100.00"), opportunity(MGR_N, "20.00"),
               opportunity(REP_S, "3.00"), opportunity(OUTSIDER, "4000.00"))
    bu = (await rollup(forecast, BU)).json()
    assert bu["node_kind"] == "org_unit" and bu["open_count"] == 3 and bu["open_amount"] == "123.00"
    assert (await rollup(forecast, TEAM_N)).json()["open_amount"] == "120.00"
    assert (await rollup(forecast, COMPANY)).json()["open_amount"] == "4123.00"
    assert (await rollup(forecast, REP_N)).json()["node_kind"] == "user"
    # The stages add up to the total weighted amount.
    assert sum(Decimal(s["weighted_amount"]) for s in bu["stages"]) == Decimal(bu["weighted_amount"])

    # A rep changes team: their own opportunities go with them; a team moves to the other BU.
    await feed(forecast.runtime, user(REP_N, "rep", MGR_N, TEAM_S, version=2))
    assert (await rollup(forecast, TEAM_N)).json()["open_amount"] == "20.00"
    assert (await rollup(forecast, TEAM_S)).json()["open_amount"] == "103.00"
    await feed(forecast.runtime, unit(TEAM_S, OTHER_BU, version=2))
    assert (await rollup(forecast, BU)).json()["open_amount"] == "20.00"
    assert (await rollup(forecast, OTHER_BU)).json()["open_amount"] == "4103.00"
    assert (await rollup(forecast, COMPANY)).json()["open_amount"] == "4123.00"
    await live_equals_recomputed(forecast)
    await feed(forecast.runtime, unit(TEAM_S, BU, version=3), user(REP_N, "rep", MGR_N, TEAM_N, version=3))
    assert (await rollup(forecast, BU)).json()["open_amount"] == "123.00"
    await live_equals_recomputed(forecast)


async def test_who_sees_an_org_unit(forecast):
    # The unit's manager and the manager above them see it; a manager of their own unit sees it.
    assert (await rollup(forecast, TEAM_N, who=MGR_N, role="manager")).status_code == 200
    assert (await rollup(forecast, TEAM_N, who=DIRECTOR, role="manager")).status_code == 200
    assert (await rollup(forecast, BU, who=DIRECTOR, role="manager")).status_code == 200
    # Outside the subtree, above it, a rep's own team, or unknown: 404 problem+json.
    for node, who, role in ((BU, MGR_N, "manager"), (COMPANY, DIRECTOR, "manager"), (TEAM_N, OUTSIDER, "manager"),
                            (TEAM_N, REP_N, "rep"), (uuid.uuid4(), ADMIN, "admin")):
        resp = await rollup(forecast, node, who=who, role=role)
        assert resp.status_code == 404, (node, who)
        assert resp.headers["content-type"].startswith("application/problem+json")


async def test_a_territory_rolls_up_the_accounts_it_covers(forecast):
    region = f"r-{uuid.uuid4().hex[:6]}"
    parent, child = uuid.uuid4(), uuid.uuid4()
    a1, a2, a3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await feed(forecast.runtime, account(a1, region), account(a2, region), account(a3, "elsewhere"),
               territory(parent, MGR_N, []), territory(child, REP_N, [region], parent=parent))
    await feed(forecast.runtime, opportunity(REP_N, "10.00", account_id=a1), opportunity(REP_S, "5.00", account_id=a2),
               opportunity(OUTSIDER, "7.00", account_id=a3))
    got = (await rollup(forecast, child)).json()
    assert got["node_kind"] == "territory" and got["open_count"] == 2 and got["open_amount"] == "15.00"
    assert (await rollup(forecast, parent)).json()["open_amount"] == "15.00"
    # The account manager and their manager see it; a manager elsewhere does not.
    assert (await rollup(forecast, child, who=MGR_N, role="manager")).status_code == 200
    assert (await rollup(forecast, child, who=OUTSIDER, role="manager")).status_code == 404
    # An account moves region: out of the territory. The rules change: a3's region is covered.
    await feed(forecast.runtime, account(a2, "elsewhere", version=2))
    assert (await rollup(forecast, child)).json()["open_amount"] == "10.00"
    await live_equals_recomputed(forecast)
    await feed(forecast.runtime, territory(child, REP_N, [region, "elsewhere"], parent=parent, version=2))
    assert (await rollup(forecast, child)).json()["open_amount"] == "22.00"
    await live_equals_recomputed(forecast)


async def test_territories_before_their_parent_with_opportunities_already_in(forecast):
    """Territory events are keyed by territory: two children can be applied before their parent
    (other partitions), while opportunities on their accounts are already in. Each one is applied
    (none dead-lettered) and the parent rolls up both children once it is known."""
    region_a, region_b = f"r-{uuid.uuid4().hex[:6]}", f"r-{uuid.uuid4().hex[:6]}"
    parent, child_a, child_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a1, a2 = uuid.uuid4(), uuid.uuid4()
    await feed(forecast.runtime, account(a1, region_a), account(a2, region_b),
               opportunity(REP_N, "10.00", account_id=a1), opportunity(REP_S, "5.00", account_id=a2))
    await feed(forecast.runtime, territory(child_a, REP_N, [region_a], parent=parent))
    await feed(forecast.runtime, territory(child_b, REP_N, [region_b], parent=parent))
    assert (await rollup(forecast, child_b)).json()["open_amount"] == "5.00"
    await feed(forecast.runtime, territory(parent, MGR_N, []))
    assert (await rollup(forecast, parent)).json()["open_amount"] == "15.00"
    assert (await rollup(forecast, child_a)).json()["open_amount"] == "10.00"
    await live_equals_recomputed(forecast)


async def test_random_stream_of_moves_keeps_every_kind_of_node_exact(forecast):
    rng = random.Random(11)
    units = [uuid.uuid4() for _ in range(5)]
    users = [uuid.uuid4() for _ in range(6)]
    accounts = [uuid.uuid4() for _ in range(6)]
    regions = ["a", "b", "c"]
    terrs = [uuid.uuid4() for _ in range(3)]
    versions: dict = {}

    def bump(key):
        versions[key] = versions.get(key, 0) + 1
        return versions[key]

    await feed(forecast.runtime, *[unit(u, None if i == 0 else units[0], version=bump(u)) for i, u in enumerate(units)],
               *[user(u, "rep", None, rng.choice(units), version=bump(u)) for u in users],
               *[account(a, rng.choice(regions), version=bump(a)) for a in accounts],
               *[territory(t, users[0], [regions[i]], version=bump(t)) for i, t in enumerate(terrs)])
    opps = {}
    for step in range(150):
        roll = rng.random()
        if roll < 0.6:
            oid = rng.choice(list(opps) + [uuid.uuid4()] * 2)
            version = opps.get(oid, 0) + 1
            opps[oid] = version
            event = opportunity(rng.choice(users), f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
                                account_id=rng.choice(accounts), stage=rng.randint(1, 7), version=version, oid=oid,
                                close=dt.date(2026, rng.randint(10, 12), 5))
        elif roll < 0.7:
            u = rng.choice(users)
            event = user(u, "rep", None, rng.choice(units), version=bump(u))
        elif roll < 0.8:
            u = rng.choice(units[1:])
            event = unit(u, rng.choice([units[0], units[1], None]) if u != units[1] else units[0], version=bump(u))
        elif roll < 0.92:
            a = rng.choice(accounts)
            event = account(a, rng.choice(regions), version=bump(a))
        else:
            t = rng.choice(terrs)
            event = territory(t, users[0], rng.sample(regions, rng.randint(0, 2)), version=bump(t))
        await feed(forecast.runtime, event)
        if step % 50 == 49:
            await live_equals_recomputed(forecast)


async def put_rates(client, body, who=ADMIN, role="admin"):
    return await client.put("/v1/exchange-rates", json=body, headers=bearer(who, role))


async def test_exchange_rates_convert_roll_ups_at_the_rate_of_each_close_month(forecast):
    rep, mgr = uuid.uuid4(), uuid.uuid4()
    await feed(forecast.runtime, user(mgr, "manager", None, None), user(rep, "rep", mgr, None))
    await feed(forecast.runtime, opportunity(rep, "100.00", currency="USD", close=dt.date(2031, 1, 15)),
               opportunity(rep, "100.00", currency="USD", close=dt.date(2031, 2, 15), stage=5),
               opportunity(rep, "50.00", currency="CNY", close=dt.date(2031, 2, 1)),
               opportunity(rep, "9.00", currency="JPY", close=dt.date(2031, 1, 1)))
    before = (await rollup(forecast, mgr, period="2031-Q1")).json()
    assert before["open_amount"] == "50.00" and before["other_currencies"] == ["JPY", "USD"]

    events = len(await outbox_rows(forecast.runtime))
    resp = await put_rates(forecast, [{"from": "USD", "to": "CNY", "rate": "7.1", "effective_date": "2031-01-01"},
                                      {"from": "USD", "to": "CNY", "rate": "7.2", "effective_date": "2031-02-01"}])
    assert resp.status_code == 200, resp.text
    published = (await outbox_rows(forecast.runtime))[events:]
    assert [e["event_type"] for e in published] == ["kam.forecast.exchange_rates_changed.v1"]
    got = (await rollup(forecast, mgr, period="2031-Q1")).json()
    # 100 × 7.1 + 100 × 7.2 + 50; JPY has no rate: listed, not summed.
    assert got["open_amount"] == "1480.00" and got["other_currencies"] == ["JPY"]
    assert [(u["from"], u["rate"], u["effective_date"]) for u in got["rates_used"]] == [
        ("USD", "7.1", "2031-01-01"), ("USD", "7.2", "2031-02-01")]
    assert sum(Decimal(s["weighted_amount"]) for s in got["stages"]) == Decimal(got["weighted_amount"])
    assert Decimal(got["weighted_amount"]) == Decimal("142.00") + Decimal("360.00") + Decimal("10.00")
    # In USD: the CNY opportunity through the inverse pair (1 / 7.2).
    usd = (await rollup(forecast, mgr, period="2031-Q1", currency="USD")).json()
    assert usd["open_amount"] == "206.94" and usd["rates_used"][0]["inverse"] is True

    # A rate change re-converts at once; the old setting stays in the history.
    assert (await put_rates(forecast, [{"from": "USD", "to": "CNY", "rate": "7.3",
                                        "effective_date": "2031-02-01"}])).status_code == 200
    assert (await rollup(forecast, mgr, period="2031-Q1")).json()["open_amount"] == "1490.00"
    listed = (await forecast.get("/v1/exchange-rates", params={"history": "true"}, headers=bearer(mgr, "manager")))
    body = listed.json()
    pair = [r for r in body["history"] if r["from"] == "USD" and r["effective_date"] == "2031-02-01"]
    assert sorted((r["rate"], r["superseded_at"] is None) for r in pair) == [("7.2", False), ("7.3", True)]
    assert [r["rate"] for r in body["rates"] if r["from"] == "USD" and r["effective_date"] == "2031-02-01"] == ["7.3"]


async def test_a_rate_set_wakes_a_waiting_read_of_a_roll_up_it_reconverts(forecast):
    # A rate is a write of forecast-svc's own, not an applied event: its commit must still wake the
    # waiting reads at once (without it they would answer at their 5 s re-check).
    rep, mgr = uuid.uuid4(), uuid.uuid4()
    await feed(forecast.runtime, user(mgr, "manager", None, None), user(rep, "rep", mgr, None),
               opportunity(rep, "100.00", currency="GBP", close=dt.date(2034, 2, 15)))
    before = await rollup(forecast, mgr, period="2034-Q1")
    assert before.json()["open_amount"] == "0.00" and before.json()["other_currencies"] == ["GBP"]
    started = time.monotonic()
    waiting = asyncio.create_task(forecast.get(
        "/v1/rollups", params={"node": str(mgr), "period": "2034-Q1"},
        headers={**bearer(ADMIN, "admin"), "If-None-Match": before.headers["ETag"], "Prefer": "wait=15"}))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert (await put_rates(forecast, [{"from": "GBP", "to": "CNY", "rate": "9",
                                        "effective_date": "2034-01-01"}])).status_code == 200
    answer = await asyncio.wait_for(waiting, 10)
    assert answer.status_code == 200 and answer.json()["open_amount"] == "900.00"
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("body, field", [
    ([{"from": "USD", "to": "CNY", "rate": "0", "effective_date": "2032-01-01"}], "rate"),
    ([{"from": "USD", "to": "CNY", "rate": "-1.5", "effective_date": "2032-01-01"}], "rate"),
    ([{"from": "EUR", "to": "CNY", "rate": "7.7", "effective_date": "2032-01-01"},
      {"from": "USD", "to": "CNY", "rate": "7", "effective_date": "2032-01-01"},
      {"from": "USD", "to": "CNY", "rate": "7.1", "effective_date": "2032-01-01"}], "effective_date"),
    ([{"from": "USD", "to": "CNY", "rate": "7", "effective_date": "2032-01-15"}], "effective_date"),
    ([{"from": "USD", "to": "USD", "rate": "1", "effective_date": "2032-01-01"}], "to"),
])
async def test_bad_rates_are_refused_and_nothing_is_written(forecast, body, field):
    before = (await forecast.get("/v1/exchange-rates", headers=bearer(ADMIN, "admin"))).json()
    events = len(await outbox_rows(forecast.runtime))
    resp = await put_rates(forecast, body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in resp.text
    assert (await forecast.get("/v1/exchange-rates", headers=bearer(ADMIN, "admin"))).json() == before
    assert len(await outbox_rows(forecast.runtime)) == events


async def test_only_an_admin_sets_rates(forecast):
    resp = await put_rates(forecast, [{"from": "USD", "to": "CNY", "rate": "7", "effective_date": "2033-01-01"}],
                           who=DIRECTOR, role="manager")
    assert resp.status_code == 403


def _figures(rollup):
    commit = next(c["amount"] for c in rollup["categories"] if c["category"] == "commit")
    return {"open_count": rollup["open_count"], "open_amount": rollup["open_amount"],
            "weighted_amount": rollup["weighted_amount"], "commit_amount": commit,
            "won_count": rollup["won_count"], "won_amount": rollup["won_amount"]}


async def test_pipeline_changes_and_forecast_history_take_an_org_unit_node(forecast):
    """An org unit's history views cover everyone in it or below: the waterfall's ends equal the
    unit's roll-up then and now, and the history ends today at it; a territory is refused (422)."""
    before = (await rollup(forecast, BU)).json()
    since = utcnow()
    south = opportunity(REP_S, "7.00", stage=3)
    await feed(forecast.runtime, south, opportunity(OUTSIDER, "9000.00", stage=3))
    now = (await rollup(forecast, BU)).json()
    resp = await forecast.get("/v1/pipeline-changes", headers=bearer(ADMIN, "admin"), params={
        "node": str(BU), "period": "2026-Q4", "since": since.isoformat()})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["start"] == _figures(before) and body["end"] == _figures(now)
    assert [c["opportunity_id"] for c in body["changes"]] == [str(south.subject)]  # not the other BU's
    # A manager sees the units inside their subtree; the north team's manager does not see the BU.
    director = await forecast.get("/v1/pipeline-changes", headers=bearer(DIRECTOR, "manager"), params={
        "node": str(BU), "period": "2026-Q4", "since": since.isoformat()})
    assert director.status_code == 200, director.text
    hidden = await forecast.get("/v1/pipeline-changes", headers=bearer(MGR_N, "manager"), params={
        "node": str(BU), "period": "2026-Q4", "since": since.isoformat()})
    assert hidden.status_code == 404
    history = await forecast.get("/v1/forecast-history", headers=bearer(ADMIN, "admin"), params={
        "node": str(BU), "period": "2026-Q4", "interval": "day"})
    assert history.status_code == 200, history.text
    last = history.json()["points"][-1]
    for key in ("open_count", "open_amount", "weighted_amount", "won_amount", "categories"):
        assert last[key] == now[key]
    tid = uuid.uuid4()
    await feed(forecast.runtime, territory(tid, MGR_N, ["north"]))
    refused = await forecast.get("/v1/pipeline-changes", headers=bearer(ADMIN, "admin"), params={
        "node": str(tid), "period": "2026-Q4", "since": since.isoformat()})
    assert refused.status_code == 422 and refused.json()["field"] == "node", refused.text
