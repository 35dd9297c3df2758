"""The opportunity's field history (kam_shared.audit) beside its stage history: who changed which
field from what to what, paged, 404 for an opportunity the caller may not see, the admin query."""
import uuid

from kam_shared.testing import bearer


async def test_field_history_of_an_opportunity(world, problem):
    manager = await world.user("manager")
    rep = await world.user("rep", manager)
    o = await world.opportunity(rep, amount=1000)
    url = f"/v1/opportunities/{o['id']}"
    renamed = await world.client.patch(url, headers={**bearer(rep), "If-Match": '"1"'}, json={"name": "Renamed deal"})
    assert renamed.status_code == 200, renamed.text
    moved = await world.client.post(f"{url}/stage", headers=bearer(manager, "manager"), json={"stage": 3})
    assert moved.status_code == 200, moved.text

    page = (await world.client.get(f"{url}/history", headers=bearer(rep))).json()
    created, rename, stage = page["items"]
    assert page["next_cursor"] is None
    assert created["event_type"] == "kam.opportunity.created.v1" and created["actor_id"] == str(rep)
    assert {"field": "amount", "from": None, "to": "1000.00"} in created["changes"]
    assert rename["changes"] == [{"field": "name", "from": o["name"], "to": "Renamed deal"}]
    assert stage["actor_id"] == str(manager) and stage["event_type"] == "kam.opportunity.stage_changed.v1"
    assert {"field": "stage", "from": 1, "to": 3} in stage["changes"]
    # The stage history is still there, unchanged in shape.
    assert (await world.client.get(f"{url}/stage-history", headers=bearer(rep))).status_code == 200

    first = (await world.client.get(f"{url}/history?limit=1", headers=bearer(rep))).json()
    second = (await world.client.get(f"{url}/history?limit=1&cursor={first['next_cursor']}",
                                     headers=bearer(rep))).json()
    assert first["items"] == [created] and second["items"] == [rename] and second["next_cursor"]

    problem(await world.client.get(f"{url}/history", headers=bearer(await world.user())), 404, "not found")
    problem(await world.client.get(f"/v1/opportunities/{uuid.uuid4()}/history", headers=bearer(rep)), 404, "not found")

    admin = bearer(uuid.uuid4(), "admin")
    found = (await world.client.get("/v1/admin/audit", headers=admin, params={"actor": str(manager)})).json()["items"]
    assert [i["subject"] for i in found] == [o["id"]] and found[0]["event_type"] == "kam.opportunity.stage_changed.v1"
    problem(await world.client.get("/v1/admin/audit", headers=bearer(rep)), 403, "admin")
