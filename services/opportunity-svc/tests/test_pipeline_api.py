"""Pipeline queries over HTTP: list filters and cursor pages, the per-stage summary, the snapshot."""
import json
import uuid

import pytest

from kam_shared.testing import bearer
from opportunity_svc.opportunities.domain.assessment import QUESTION_KEYS


@pytest.fixture
async def pipeline(world):
    """manager → (rep_a, rep_b); an outsider. Five opportunities:
    a1 rep_a stage 3 CNY 100 000, confirmed, high value, closes 2026-11-10
    a2 rep_a stage 3 USD  20 000, closes 2026-12-20
    a3 rep_a won     CNY  50 000, closes 2026-10-01
    b1 rep_b stage 6 CNY 200 000, closes 2027-01-15
    b2 rep_b lost    CNY  10 000, closes 2026-12-01
    """
    manager = await world.user("manager")
    rep_a, rep_b, outsider = await world.user("rep", manager), await world.user("rep", manager), await world.user()
    account = await world.account(rep_a)
    c, ids = world.client, {}

    async def make(key, owner, amount, close_date, currency="CNY", stage=None, outcome=None):
        # rep_b may not see rep_a's account: their manager, who sees both, creates rep_b's opportunities.
        o = await world.opportunity(owner, account, amount=amount, close_date=close_date, currency=currency,
                                    name=key, by=None if owner == rep_a else (manager, "manager"))
        if stage:
            await c.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(owner), json={"stage": stage})
        if outcome:
            await c.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(owner),
                         json={"outcome": outcome, "reason": "other", "competitor": "X" if outcome == "lost" else None})
        ids[key] = o["id"]

    await make("a1", rep_a, "100000", "2026-11-10", stage=3)
    await make("a2", rep_a, "20000", "2026-12-20", currency="USD", stage=3)
    await make("a3", rep_a, "50000", "2026-10-01", outcome="won")
    await make("b1", rep_b, "200000", "2027-01-15", stage=6)
    await make("b2", rep_b, "10000", "2026-12-01", outcome="lost")
    await c.post(f"/v1/opportunities/{ids['a1']}/confirm", headers=bearer(rep_a), json={})
    await c.put(f"/v1/opportunities/{ids['a1']}/assessment", headers=bearer(rep_a),
                json={"answers": {k: True for k in QUESTION_KEYS}})
    await c.put(f"/v1/opportunities/{ids['a2']}/assessment", headers=bearer(rep_a),
                json={"answers": {k: False for k in QUESTION_KEYS}})
    return dict(manager=manager, rep_a=rep_a, rep_b=rep_b, outsider=outsider, account=account, ids=ids)


async def names(world, who, role="rep", **params) -> list[str]:
    resp = await world.client.get("/v1/opportunities", headers=bearer(who, role), params=params)
    assert resp.status_code == 200, resp.text
    return sorted(item["name"] for item in resp.json()["items"])


async def test_list_filters(world, pipeline):
    p, m = pipeline, pipeline["manager"]
    assert await names(world, m, "manager") == ["a1", "a2", "a3", "b1", "b2"]
    assert await names(world, p["rep_a"]) == ["a1", "a2", "a3"]
    assert await names(world, p["outsider"]) == []
    assert await names(world, m, "manager", owner_subtree=str(p["rep_b"])) == ["b1", "b2"]
    assert await names(world, m, "manager", owner_id=str(p["rep_a"]), status="open") == ["a1", "a2"]
    assert await names(world, m, "manager", stage=[3, 6]) == ["a1", "a2", "b1"]
    assert await names(world, m, "manager", stage=8) == ["a3", "b2"]
    assert await names(world, m, "manager", close_date_from="2026-11-01", close_date_to="2026-12-31") == [
        "a1", "a2", "b2"]
    assert await names(world, m, "manager", high_value="true") == ["a1"]
    assert await names(world, m, "manager", high_value="false", status="open") == ["a2", "b1"]
    assert await names(world, m, "manager", confirmed="true") == ["a1"]
    assert await names(world, m, "manager", account_id=str(p["account"]), status="lost") == ["b2"]
    # A filter cannot widen what you see: a rep asking for a peer's subtree sees nothing of it.
    assert await names(world, p["rep_a"], owner_subtree=str(p["rep_b"])) == []


@pytest.mark.parametrize("params, mentions", [
    ({"stage": 9}, "stage"), ({"status": "pending"}, "status"), ({"close_date_from": "yesterday"}, "close_date_from"),
    ({"close_date_from": "2027-01-01", "close_date_to": "2026-01-01"}, "close_date_from"),
    ({"high_value": "maybe"}, "high_value"), ({"cursor": "not-a-cursor!"}, "cursor"), ({"limit": 0}, "limit"),
])
async def test_bad_filters_are_422(world, problem, params, mentions):
    problem(await world.client.get("/v1/opportunities", headers=bearer(await world.user()), params=params),
            422, mentions)


async def test_cursor_pages_cover_everything_once(world, pipeline):
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "owner_subtree": str(pipeline["manager"]), **({"cursor": cursor} if cursor else {})}
        page = (await world.client.get("/v1/opportunities", headers=bearer(pipeline["manager"], "manager"),
                                       params=params)).json()
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(pipeline["ids"].values()) and seen == sorted(seen)


async def test_pipeline_summary_per_stage_and_currency(world, pipeline):
    resp = await world.client.get("/v1/pipeline/summary", headers=bearer(pipeline["manager"], "manager"))
    assert resp.status_code == 200, resp.text
    s = resp.json()
    by_stage = {(row["stage"], row["status"]): row for row in s["stages"]}
    assert [row["stage"] for row in s["stages"]] == [1, 2, 3, 4, 5, 6, 7, 8, 8]
    assert by_stage[(3, "open")]["count"] == 2 and by_stage[(3, "open")]["probability"] == 30
    assert by_stage[(3, "open")]["amounts"] == [
        {"currency": "CNY", "amount": "100000.00", "weighted_amount": "30000.00"},
        {"currency": "USD", "amount": "20000.00", "weighted_amount": "6000.00"}]
    assert by_stage[(6, "open")]["amounts"] == [
        {"currency": "CNY", "amount": "200000.00", "weighted_amount": "140000.00"}]
    assert by_stage[(8, "won")]["count"] == 1 and by_stage[(8, "won")]["amounts"][0]["amount"] == "50000.00"
    assert by_stage[(8, "lost")]["count"] == 1 and by_stage[(1, "open")] == {
        "stage": 1, "name": "Find contacts and need", "status": "open", "probability": 10, "count": 0, "amounts": []}
    assert (s["open_count"], s["won_count"], s["lost_count"], s["high_value_count"], s["confirmed_count"]) == (
        3, 1, 1, 1, 1)
    assert s["open_amounts"] == [{"currency": "CNY", "amount": "300000.00", "weighted_amount": "170000.00"},
                                 {"currency": "USD", "amount": "20000.00", "weighted_amount": "6000.00"}]
    mine = (await world.client.get("/v1/pipeline/summary", headers=bearer(pipeline["rep_b"]))).json()
    assert (mine["open_count"], mine["lost_count"], mine["won_count"]) == (1, 1, 0)
    narrowed = (await world.client.get("/v1/pipeline/summary", headers=bearer(pipeline["manager"], "manager"),
                                       params={"close_date_to": "2026-11-30"})).json()
    assert (narrowed["open_count"], narrowed["won_count"], narrowed["lost_count"]) == (1, 1, 0)
    assert (await world.client.get("/v1/pipeline/summary", headers=bearer(pipeline["outsider"]))).json()[
        "open_count"] == 0


async def test_snapshot_pages_full_states_with_versions(world, pipeline):
    admin = bearer(uuid.uuid4(), "admin")
    states, cursor = {}, None
    while True:
        page = (await world.client.get("/v1/opportunities/snapshot", headers=admin,
                                       params={"limit": 50, **({"cursor": cursor} if cursor else {})})).json()
        assert page["stage_model_version"] >= 1 and page["as_of"]
        ids = [o["id"] for o in page["items"]]
        assert ids == sorted(ids)
        states.update({o["id"]: o for o in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    a1 = states[pipeline["ids"]["a1"]]
    assert (a1["version"], a1["stage"], a1["probability"], a1["confirmed"], a1["high_value"]) == (4, 3, 30, True, True)
    assert set(pipeline["ids"].values()) <= set(states)
    # The snapshot state is exactly what the latest event carried, and what GET shows.
    latest = [json.loads(r["payload"]) for r in await world.outbox() if r["message_key"] == a1["id"]][-1]
    assert latest["data"]["opportunity"] == a1 and latest["sequence"] == a1["version"]
    got = (await world.client.get(f"/v1/opportunities/{a1['id']}", headers=admin)).json()
    assert {k: got[k] for k in a1} == a1
    # Not an admin: only what you may see.
    rep_view = (await world.client.get("/v1/opportunities/snapshot", headers=bearer(pipeline["rep_b"]))).json()
    assert sorted(o["name"] for o in rep_view["items"]) == ["b1", "b2"]
