"""Won and lost reasons: an admin-managed list that every close names (DOMAIN: lost needs the
reason and the competitor who won, unless nobody won)."""
import json
import uuid

from kam_shared.testing import bearer


async def test_the_default_reasons_and_which_need_a_competitor(world):
    resp = await world.client.get("/v1/close-reasons", headers=bearer(uuid.uuid4()))
    assert resp.status_code == 200 and resp.headers["etag"] == '"1"'
    reasons = {(r["outcome"], r["code"]): r for r in resp.json()}
    assert not reasons[("lost", "no_decision")]["needs_competitor"]
    assert not reasons[("lost", "cancelled")]["needs_competitor"]
    assert reasons[("lost", "price")]["needs_competitor"] and not reasons[("won", "best_value")]["needs_competitor"]
    assert reasons[("lost", "price")]["labels"] == {"zh-CN": "价格", "en": "Price"}


async def test_lost_needs_a_listed_reason_and_the_competitor_unless_nobody_won(world):
    rep = await world.user()
    for body, competitor in (({"reason": "no_decision"}, None), ({"reason": "cancelled", "note": "budget gone"}, None),
                             ({"reason": "price", "competitor": " Rival Corp "}, "Rival Corp")):
        o = await world.opportunity(rep)
        before = len(await world.outbox())
        resp = await world.client.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(rep),
                                       json={"outcome": "lost", **body})
        assert resp.status_code == 200, resp.text
        assert (resp.json()["close_reason"], resp.json()["lost_to_competitor"]) == (body["reason"], competitor)
        assert resp.json()["close_note"] == body.get("note")
        [row] = (await world.outbox())[before:]
        data = json.loads(row["payload"])["data"]
        assert (data["reason"], data["competitor"], data["note"]) == (body["reason"], competitor, body.get("note"))


async def test_an_admin_edits_the_list_codes_are_deactivated_not_removed(isolated, problem):
    async with isolated() as world:  # a database of its own: the list is global
        rep, admin = await world.user(), bearer(uuid.uuid4(), "admin")
        reasons = (await world.client.get("/v1/close-reasons", headers=admin)).json()
        marker = await world.unchanged()
        problem(await world.client.put("/v1/close-reasons", headers=bearer(rep), json=reasons), 403, "admin")
        problem(await world.client.put("/v1/close-reasons", headers=admin, json=reasons[1:]), 422, "never removed")
        problem(await world.client.put("/v1/close-reasons", headers=admin, json=reasons + [reasons[0]]), 422,
                "twice")
        no_label = [dict(r) for r in reasons]
        no_label[0]["labels"] = {"zh-CN": "", "en": "x"}
        problem(await world.client.put("/v1/close-reasons", headers=admin, json=no_label), 422, "labels")
        won_needs = [dict(r) for r in reasons]
        won_needs[0]["needs_competitor"] = True
        problem(await world.client.put("/v1/close-reasons", headers=admin, json=won_needs), 422, "needs_competitor")
        none_won = [dict(r, active=False) if r["outcome"] == "won" else r for r in reasons]
        problem(await world.client.put("/v1/close-reasons", headers=admin, json=none_won), 422, "at least one won")
        problem(await world.client.put("/v1/close-reasons", headers={**admin, "If-Match": '"9"'}, json=reasons), 412,
                "version 1")
        await world.assert_unchanged(marker)

        revised = [dict(r, active=False) if r["code"] == "price" else r for r in reasons] + [
            {"outcome": "lost", "code": "budget_cut", "labels": {"zh-CN": "预算削减", "en": "Budget cut"}}]
        resp = await world.client.put("/v1/close-reasons", headers={**admin, "If-Match": '"1"'}, json=revised)
        assert resp.status_code == 200 and resp.headers["etag"] == '"2"', resp.text
        assert resp.json()[-1] == {"outcome": "lost", "code": "budget_cut", "needs_competitor": False, "active": True,
                                   "labels": {"zh-CN": "预算削减", "en": "Budget cut"}}
        event = json.loads((await world.outbox())[-1]["payload"])
        assert event["type"] == "kam.opportunity.close_reasons_changed.v1" and event["subject"] == "close-reasons"
        assert event["sequence"] == 2 and len(event["data"]["reasons"]) == len(reasons) + 1
        # The same list again changes nothing and publishes nothing.
        before = len(await world.outbox())
        assert (await world.client.put("/v1/close-reasons", headers=admin, json=revised)).headers["etag"] == '"2"'
        assert len(await world.outbox()) == before

        o = await world.opportunity(rep)
        problem(await world.client.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(rep),
                                        json={"outcome": "lost", "reason": "price", "competitor": "X"}), 422, "reason")
        resp = await world.client.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(rep),
                                       json={"outcome": "lost", "reason": "budget_cut"})
        assert resp.status_code == 200 and resp.json()["close_reason"] == "budget_cut"
