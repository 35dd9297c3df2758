"""Sales team, primary owner and confirmation over HTTP: who may do what, and the events."""
import json
import uuid

import pytest

from kam_shared.testing import bearer
from opportunity_svc.opportunities.models import team_members


@pytest.fixture
async def org(world):
    """director → manager → rep, plus a peer rep under the same manager and an outsider."""
    director = await world.user("manager")
    manager = await world.user("manager", director)
    rep = await world.user("rep", manager)
    peer = await world.user("rep", manager)
    outsider = await world.user("rep")
    return dict(director=director, manager=manager, rep=rep, peer=peer, outsider=outsider)


async def change_owner(world, actor, opp_id, new_owner, role="rep", **extra):
    return await world.client.post(f"/v1/opportunities/{opp_id}/owner", headers={**bearer(actor, role), **extra},
                                   json={"owner_id": str(new_owner), "reason": "territory rebalance"})


@pytest.mark.parametrize("actor, role, mentions", [
    ("rep", "rep", "the owner themselves"),
    ("peer", "rep", "not found"),  # a peer cannot even see it
])
async def test_owner_change_refused_for_the_owner_and_peers(world, org, problem, actor, role, mentions):
    o = await world.opportunity(org["rep"])
    marker = await world.unchanged(team_members)
    resp = await change_owner(world, org[actor], o["id"], org["peer"], role)
    problem(resp, 404 if mentions == "not found" else 403, mentions)
    await world.assert_unchanged(marker, team_members)


async def test_owner_change_refused_for_a_subordinate_of_the_owner(world, org, problem):
    # The manager owns it; their own rep (a subordinate) is on the team and tries to take it over.
    o = await world.opportunity(org["manager"])
    await world.client.put(f"/v1/opportunities/{o['id']}/team/{org['rep']}", headers=bearer(org["manager"], "manager"),
                           json={"role": "sales"})
    marker = await world.unchanged(team_members)
    resp = await change_owner(world, org["rep"], o["id"], org["rep"])
    problem(resp, 403, "only a superior of the current primary owner or an admin")
    assert "peer or subordinate" in resp.json()["detail"]
    await world.assert_unchanged(marker, team_members)


@pytest.mark.parametrize("actor, role", [("manager", "manager"), ("director", "manager"), ("admin", "admin")])
async def test_owner_change_by_a_superior_at_any_level_or_an_admin(world, org, actor, role):
    o = await world.opportunity(org["rep"])
    url = f"/v1/opportunities/{o['id']}"
    await world.client.post(f"{url}/confirm", headers=bearer(org["rep"]), json={"confirmed": True})
    who = org.get(actor) or uuid.uuid4()
    resp = await change_owner(world, who, o["id"], org["peer"], role, **{"If-Match": '"2"'})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["owner_id"], body["confirmed"], body["version"]) == (str(org["peer"]), False, 3)
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.owner_changed.v1"
    assert (event["data"]["from_owner_id"], event["data"]["to_owner_id"], event["data"]["changed_by"]) == (
        str(org["rep"]), str(org["peer"]), str(who))
    assert event["data"]["opportunity"]["owner_id"] == str(org["peer"])
    # The old owner no longer sees it; the new one does.
    assert (await world.client.get(url, headers=bearer(org["rep"]))).status_code == 404
    assert (await world.client.get(url, headers=bearer(org["peer"]))).status_code == 200


async def test_new_owner_must_be_known_active_and_within_reach(world, org, problem):
    o = await world.opportunity(org["rep"])
    inactive = await world.user("rep", org["manager"], active=False)
    marker = await world.unchanged()
    problem(await change_owner(world, org["manager"], o["id"], uuid.uuid4(), "manager"), 422, "not known")
    problem(await change_owner(world, org["manager"], o["id"], inactive, "manager"), 422, "deactivated")
    problem(await change_owner(world, org["manager"], o["id"], org["outsider"], "manager"), 403, "below you")
    await world.assert_unchanged(marker)


async def test_confirmation_is_the_primary_owners(world, org, problem):
    o = await world.opportunity(org["rep"])
    url = f"/v1/opportunities/{o['id']}/confirm"
    marker = await world.unchanged()
    problem(await world.client.post(url, headers=bearer(org["manager"], "manager"), json={}), 403, "primary owner")
    problem(await world.client.post(url, headers=bearer(uuid.uuid4(), "admin"), json={}), 403, "primary owner")
    problem(await world.client.post(url, headers=bearer(org["rep"]), json={"confirmed": "yes"}), 422, "confirmed")
    await world.assert_unchanged(marker)
    resp = await world.client.post(url, headers=bearer(org["rep"]), json={})
    assert resp.status_code == 200 and resp.json()["confirmed"] is True and resp.json()["confirmed_at"]
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.confirmation_changed.v1"
    assert event["data"]["confirmed"] == {"from": False, "to": True} and event["data"]["opportunity"]["confirmed"]
    withdrawn = await world.client.post(url, headers=bearer(org["rep"]), json={"confirmed": False})
    assert withdrawn.json()["confirmed"] is False and withdrawn.json()["version"] == 3


async def test_team_members_join_see_it_read_only_and_leave(world, org, problem):
    o = await world.opportunity(org["rep"])
    url = f"/v1/opportunities/{o['id']}"
    presales = org["outsider"]  # another department: not in the rep's line
    problem(await world.client.get(url, headers=bearer(presales)), 404, "not found")

    added = await world.client.put(f"{url}/team/{presales}", headers=bearer(org["rep"]), json={"role": "presales"})
    assert added.status_code == 200, added.text
    assert added.json()["team"][0]["user_id"] == str(presales) and added.json()["version"] == 2
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.team_changed.v1"
    assert (event["data"]["change"], event["data"]["role"]) == ("added", {"from": None, "to": "presales"})

    team = (await world.client.get(f"{url}/team", headers=bearer(presales))).json()
    assert [(m["user_id"], m["role"], m["primary"]) for m in team] == [
        (str(org["rep"]), "primary_owner", True), (str(presales), "presales", False)]
    assert (await world.client.get(url, headers=bearer(presales))).status_code == 200
    listed = (await world.client.get("/v1/opportunities", headers=bearer(presales))).json()["items"]
    assert [item["id"] for item in listed] == [o["id"]]
    marker = await world.unchanged(team_members)
    problem(await world.client.post(f"{url}/stage", headers=bearer(presales), json={"stage": 2}), 403, "read access")
    await world.assert_unchanged(marker, team_members)

    role = await world.client.put(f"{url}/team/{presales}", headers=bearer(org["manager"], "manager"),
                                  json={"role": "technical"})
    assert role.json()["team"][0]["role"] == "technical"
    left = await world.client.delete(f"{url}/team/{presales}", headers=bearer(org["rep"]))
    assert left.status_code == 200 and left.json()["team"] == []
    problem(await world.client.get(url, headers=bearer(presales)), 404, "not found")


@pytest.mark.parametrize("target, payload, status, mentions", [
    ("rep", {"role": "sales"}, 422, "primary owner"),
    ("unknown", {"role": "sales"}, 422, "not known"),
    ("peer", {"role": "wizard"}, 422, "role"),
    ("peer", {}, 422, "role"),
])
async def test_bad_team_changes_write_nothing(world, org, problem, target, payload, status, mentions):
    o = await world.opportunity(org["rep"])
    user = org.get(target) or uuid.uuid4()
    marker = await world.unchanged(team_members)
    problem(await world.client.put(f"/v1/opportunities/{o['id']}/team/{user}", headers=bearer(org["rep"]),
                                   json=payload), status, mentions)
    problem(await world.client.delete(f"/v1/opportunities/{o['id']}/team/{org['peer']}", headers=bearer(org["rep"])),
            422, "not on this opportunity's team")
    await world.assert_unchanged(marker, team_members)
