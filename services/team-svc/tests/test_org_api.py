"""The organisation over HTTP: org units, placement, the tree, subtree / chain / is-above, moves,
the rules that keep the hierarchy sound, and the events a replica needs."""
import uuid

from team_svc.common.models import change_log, org_units, users


async def build_company(api, name="Acme"):
    """company → business unit → region → team, with a director, a manager and two reps."""
    company = await api.unit(f"{name} {uuid.uuid4().hex[:6]}", "company")
    bu = await api.unit("Enterprise", "business_unit", company["id"])
    region = await api.unit("North", "region", bu["id"])
    team = await api.unit("North Banking", "team", region["id"])
    director = await api.user("manager", unit=bu["id"], title="Sales Director")
    manager = await api.user("manager", superior=director["id"], unit=region["id"])
    rep1 = await api.user("rep", superior=manager["id"], unit=team["id"])
    rep2 = await api.user("rep", superior=manager["id"], unit=team["id"])
    return dict(company=company, bu=bu, region=region, team=team, director=director, manager=manager,
                rep1=rep1, rep2=rep2)


async def test_units_nest_any_depth_and_the_tree_shows_units_with_their_members(api):
    org = await build_company(api)
    admin = await api.admin()
    assert org["team"]["company_id"] == org["company"]["id"] and org["team"]["depth"] == 4
    assert org["rep1"]["org_unit_id"] == org["team"]["id"]
    tree = (await api.client.get("/v1/org/tree", headers=admin, params={"root": org["company"]["id"]})).json()
    [company] = tree["roots"]
    bu = company["children"][0]
    region = bu["children"][0]
    team = region["children"][0]
    assert (company["kind"], bu["kind"], region["kind"], team["kind"]) == ("company", "business_unit", "region", "team")
    assert {m["id"] for m in team["members"]} == {org["rep1"]["id"], org["rep2"]["id"]}
    assert [m["title"] for m in bu["members"]] == ["Sales Director"]
    # Every signed-in user may read the organisation.
    rep_view = await api.client.get("/v1/org/tree", headers=await api.auth(org["rep1"]))
    assert rep_view.status_code == 200 and rep_view.json()["unit_count"] >= 4


async def test_org_unit_events_carry_parent_and_company(api):
    before = await api.outbox_count()
    company = await api.unit(f"Evented {uuid.uuid4().hex[:6]}", "company")
    region = await api.unit("East", "region", company["id"])
    events = await api.events_since(before)
    assert [t for t, _ in events] == ["kam.team.org_unit_created.v1"] * 2
    state = events[1][1]["data"]["org_unit"]
    assert state["parent_id"] == company["id"] and state["company_id"] == company["id"] and state["version"] == 1
    assert events[1][1]["subject"] == region["id"] and events[1][1]["sequence"] == 1


async def test_subtree_chain_and_is_above(api):
    org = await build_company(api)
    auth = await api.auth(org["rep1"])
    sub = (await api.client.get(f"/v1/users/{org['director']['id']}/subtree", headers=auth)).json()
    assert sub["count"] == 4
    assert [(u["id"], u["depth"]) for u in sub["users"]][:2] == [(org["director"]["id"], 0), (org["manager"]["id"], 1)]
    assert {u["id"] for u in sub["users"] if u["depth"] == 2} == {org["rep1"]["id"], org["rep2"]["id"]}
    shallow = (await api.client.get(f"/v1/users/{org['director']['id']}/subtree", headers=auth,
                                    params={"max_depth": 1})).json()
    assert shallow["count"] == 2
    chain = (await api.client.get(f"/v1/users/{org['rep1']['id']}/chain", headers=auth)).json()
    assert [(c["id"], c["level"]) for c in chain["chain"]] == [(org["manager"]["id"], 1), (org["director"]["id"], 2)]

    async def above(a, b):
        resp = await api.client.get("/v1/hierarchy/is-above", headers=auth,
                                    params={"superior_id": a["id"], "subordinate_id": b["id"]})
        return resp.json()["is_above"]

    assert await above(org["director"], org["rep1"]) and await above(org["manager"], org["rep2"])
    assert not await above(org["rep1"], org["manager"]) and not await above(org["rep1"], org["rep1"])
    assert not await above(org["rep1"], org["rep2"])
    ghost = str(uuid.uuid4())
    for path, params in ((f"/v1/users/{ghost}/subtree", {}), (f"/v1/users/{ghost}/chain", {}),
                         ("/v1/hierarchy/is-above", {"superior_id": org["rep1"]["id"], "subordinate_id": ghost})):
        resp = await api.client.get(path, headers=auth, params=params)
        assert resp.status_code == 404 and ghost in resp.json()["detail"], path


async def test_moving_a_manager_moves_their_whole_team_and_publishes_one_event(api, problem):
    org = await build_company(api)
    admin = await api.admin()
    other = await api.user("manager", superior=org["director"]["id"], unit=org["region"]["id"])
    new_boss = await api.user("manager", unit=org["bu"]["id"])
    before = await api.outbox_count()
    moved = await api.client.patch(f"/v1/users/{org['manager']['id']}", headers=admin,
                                   json={"superior_id": new_boss["id"]})
    assert moved.status_code == 200, moved.text
    events = await api.events_since(before)
    assert [t for t, _ in events] == ["kam.team.user_updated.v1"]
    assert events[0][1]["data"]["changes"]["superior_id"] == {"from": org["director"]["id"], "to": new_boss["id"]}
    # The reps moved along: they are now below the new boss and no longer below the old director.
    check = await api.client.get("/v1/hierarchy/is-above", headers=admin,
                                 params={"superior_id": new_boss["id"], "subordinate_id": org["rep1"]["id"]})
    assert check.json()["is_above"] is True
    check = await api.client.get("/v1/hierarchy/is-above", headers=admin,
                                 params={"superior_id": org["director"]["id"], "subordinate_id": org["rep1"]["id"]})
    assert check.json()["is_above"] is False
    chain = (await api.client.get(f"/v1/users/{org['rep2']['id']}/chain", headers=admin)).json()["chain"]
    assert [c["id"] for c in chain] == [org["manager"]["id"], new_boss["id"]]
    # A cycle through the moved team is refused, nothing written.
    state = await api.snapshot(users, change_log)
    problem(await api.client.patch(f"/v1/users/{new_boss['id']}", headers=admin,
                                   json={"superior_id": org["rep1"]["id"]}), 409, "cycle")
    assert await api.snapshot(users, change_log) == state
    assert other["superior_id"] == org["director"]["id"]


async def test_a_superior_in_another_company_is_refused(api, problem):
    acme = await build_company(api, "Acme")
    globex = await build_company(api, "Globex")
    admin = await api.admin()
    state = await api.snapshot(users, change_log)
    problem(await api.client.post("/v1/users", headers=admin, json={
        "email": f"x.{uuid.uuid4().hex[:6]}@example.com", "name": "X", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": acme["manager"]["id"], "org_unit_id": globex["team"]["id"]}), 422, "another company")
    problem(await api.client.patch(f"/v1/users/{globex['rep1']['id']}", headers=admin,
                                   json={"superior_id": acme["manager"]["id"]}), 422, "another company")
    # Moving a manager to the other company's unit while their team stays behind is refused too.
    problem(await api.client.patch(f"/v1/users/{acme['manager']['id']}", headers=admin,
                                   json={"org_unit_id": globex["team"]["id"]}), 422, "another company")
    assert await api.snapshot(users, change_log) == state


async def test_unit_moves_refuse_cycles_and_cross_company_lines_and_carry_company_along(api, problem):
    acme = await build_company(api, "Acme")
    admin = await api.admin()
    other = await api.unit(f"Other {uuid.uuid4().hex[:6]}", "company")
    state = await api.snapshot(org_units, change_log)
    problem(await api.client.patch(f"/v1/org-units/{acme['bu']['id']}", headers=admin,
                                   json={"parent_id": acme["team"]["id"]}), 409, "cycle")
    problem(await api.client.patch(f"/v1/org-units/{acme['bu']['id']}", headers=admin,
                                   json={"parent_id": acme["bu"]["id"]}), 409, "cycle")
    problem(await api.client.patch(f"/v1/org-units/{acme['company']['id']}", headers=admin,
                                   json={"parent_id": acme["team"]["id"]}), 422, "company")
    problem(await api.client.post("/v1/org-units", headers=admin, json={"name": "Orphan", "kind": "team"}),
            422, "parent_id")
    # The region's people report to the director in the business unit: it cannot leave the company.
    problem(await api.client.patch(f"/v1/org-units/{acme['region']['id']}", headers=admin,
                                   json={"parent_id": other["id"]}), 422, "cross companies")
    assert await api.snapshot(org_units, change_log) == state

    # A unit with nobody tied to the rest of the company moves, and its sub-units follow the company.
    spare = await api.unit("Spare", "region", acme["bu"]["id"])
    spare_team = await api.unit("Spare team", "team", spare["id"])
    before = await api.outbox_count()
    moved = await api.client.patch(f"/v1/org-units/{spare['id']}", headers={**admin, "If-Match": '"1"'},
                                   json={"parent_id": other["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["company_id"] == other["id"] and moved.json()["version"] == 2
    events = await api.events_since(before)
    assert [t for t, _ in events] == ["kam.team.org_unit_moved.v1", "kam.team.org_unit_updated.v1"]
    assert events[0][1]["data"]["from_parent_id"] == acme["bu"]["id"]
    assert events[0][1]["data"]["to_parent_id"] == other["id"]
    assert events[1][1]["subject"] == spare_team["id"]
    assert events[1][1]["data"]["changes"]["company_id"] == {"from": acme["company"]["id"], "to": other["id"]}
    got = (await api.client.get(f"/v1/org-units/{spare_team['id']}", headers=admin)).json()
    assert got["company_id"] == other["id"] and got["depth"] == 3
    problem(await api.client.patch(f"/v1/org-units/{spare['id']}", headers={**admin, "If-Match": '"1"'},
                                   json={"name": "Renamed"}), 412, "version 2")
    # A unit whose manager sits in it moves company with its manager; a manager left behind blocks it.
    branch = await api.unit("Branch", "region", acme["bu"]["id"])
    head = await api.user("manager", unit=branch["id"])
    await api.client.patch(f"/v1/org-units/{branch['id']}", headers=admin, json={"manager_id": head["id"]})
    outside_head = await api.user("manager", unit=acme["bu"]["id"])
    branch2 = await api.unit("Branch 2", "region", acme["bu"]["id"], manager_id=outside_head["id"])
    assert (await api.client.patch(f"/v1/org-units/{branch['id']}", headers=admin,
                                   json={"parent_id": other["id"]})).status_code == 200
    problem(await api.client.patch(f"/v1/org-units/{branch2['id']}", headers=admin,
                                   json={"parent_id": other["id"]}), 422, "manager")
    assert (await api.client.get(f"/v1/org-units/{branch2['id']}", headers=admin)).json()["company_id"] == \
        acme["company"]["id"]


async def test_deactivation_keeps_history_and_refuses_to_orphan_people(api, problem):
    org = await build_company(api)
    admin = await api.admin()
    state = await api.snapshot(users, org_units)
    problem(await api.client.patch(f"/v1/users/{org['manager']['id']}", headers=admin, json={"active": False}),
            409, "report to this user")
    problem(await api.client.patch(f"/v1/org-units/{org['team']['id']}", headers=admin, json={"active": False}),
            409, "active members")
    assert await api.snapshot(users, org_units) == state
    for rep in ("rep1", "rep2"):
        resp = await api.client.patch(f"/v1/users/{org[rep]['id']}", headers=admin, json={"active": False})
        assert resp.status_code == 200 and resp.json()["active"] is False
    assert (await api.client.patch(f"/v1/users/{org['manager']['id']}", headers=admin,
                                   json={"active": False})).status_code == 200
    closed = await api.client.patch(f"/v1/org-units/{org['team']['id']}", headers=admin, json={"active": False})
    assert closed.status_code == 200 and closed.json()["active"] is False
    # Deactivated people and units stay readable, with their history.
    assert (await api.client.get(f"/v1/users/{org['rep1']['id']}", headers=admin)).json()["active"] is False
    history = (await api.client.get(f"/v1/users/{org['rep1']['id']}/history", headers=admin)).json()
    assert [h["event_type"] for h in history] == ["kam.team.user_created.v1", "kam.team.user_updated.v1"]
    assert history[1]["changes"] == {"active": {"from": True, "to": False}}
    unit_history = (await api.client.get(f"/v1/org-units/{org['team']['id']}/history", headers=admin)).json()
    assert unit_history[-1]["changes"]["active"] == {"from": True, "to": False}
    # The active tree no longer shows them; include_inactive does.
    sub = (await api.client.get(f"/v1/users/{org['director']['id']}/subtree", headers=admin)).json()
    assert sub["count"] == 1
    sub = (await api.client.get(f"/v1/users/{org['director']['id']}/subtree", headers=admin,
                                params={"include_inactive": True})).json()
    assert sub["count"] == 4
    # Nobody can be placed in a closed unit or under a deactivated superior.
    problem(await api.client.post("/v1/users", headers=admin, json={
        "email": f"late.{uuid.uuid4().hex[:6]}@example.com", "name": "Late", "role": "rep", "password": "lamp-tiger-7",
        "org_unit_id": org["team"]["id"]}), 422, "deactivated")
    problem(await api.client.post("/v1/users", headers=admin, json={
        "email": f"late.{uuid.uuid4().hex[:6]}@example.com", "name": "Late", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": org["manager"]["id"]}), 422, "deactivated")


async def test_only_admins_shape_the_organisation(api, problem):
    org = await build_company(api)
    as_manager = await api.auth(org["manager"])
    state = await api.snapshot(org_units)
    problem(await api.client.post("/v1/org-units", headers=as_manager, json={
        "name": "Rogue", "kind": "team", "parent_id": org["region"]["id"]}), 403, "admin")
    problem(await api.client.patch(f"/v1/org-units/{org['team']['id']}", headers=as_manager,
                                   json={"name": "Mine"}), 403, "admin")
    problem(await api.client.post("/v1/org-units", headers=await api.admin(), json={
        "name": "Team", "kind": "squad", "parent_id": org["region"]["id"]}), 422, "kind")
    problem(await api.client.post("/v1/org-units", headers=await api.admin(), json={
        "name": "North Banking", "kind": "team", "parent_id": org["region"]["id"]}), 409, "name")
    assert await api.snapshot(org_units) == state


async def test_a_replica_fed_only_by_user_events_answers_is_above_and_subtree_like_team_svc(api):
    org = await build_company(api)
    admin = await api.admin()
    boss = await api.user("manager", unit=org["bu"]["id"])
    extra = await api.user("rep", superior=org["rep1"]["id"], unit=org["team"]["id"])
    await api.client.patch(f"/v1/users/{org['manager']['id']}", headers=admin, json={"superior_id": boss["id"]})
    await api.client.patch(f"/v1/users/{extra['id']}", headers=admin, json={"superior_id": org["director"]["id"]})
    await api.client.patch(f"/v1/users/{org['rep2']['id']}", headers=admin, json={"superior_id": extra["id"]})
    people = [org["director"], org["manager"], org["rep1"], org["rep2"], boss, extra]

    # The replica: newest state per user (by version), edges only, as kam_shared.hierarchy keeps them.
    superior, version = {}, {}
    for typ, event in await api.events_since(0):
        if typ in ("kam.team.user_created.v1", "kam.team.user_updated.v1"):
            user = event["data"]["user"]
            if user["version"] > version.get(user["id"], 0):
                version[user["id"]], superior[user["id"]] = user["version"], user["superior_id"]

    def replica_above(a, b):
        current = superior.get(b)
        while current is not None:
            if current == a:
                return True
            current = superior.get(current)
        return False

    for a in people:
        below = {p["id"] for p in people if replica_above(a["id"], p["id"])} | {a["id"]}
        served = (await api.client.get(f"/v1/users/{a['id']}/subtree", headers=admin)).json()["users"]
        assert {u["id"] for u in served} & {p["id"] for p in people} == below
        for b in people:
            answer = (await api.client.get("/v1/hierarchy/is-above", headers=admin, params={
                "superior_id": a["id"], "subordinate_id": b["id"]})).json()["is_above"]
            assert answer == replica_above(a["id"], b["id"]), (a["name"], b["name"])


async def test_concurrent_moves_and_sign_ups_keep_every_path_consistent(api):
    """Moves and new people under moving managers, all at once: afterwards every stored path must
    still be the superior's path plus the person's own id (PostgreSQL runs them concurrently)."""
    import asyncio

    from sqlalchemy import select

    if api.runtime.db.sqlite:
        import pytest
        pytest.skip("SQLite has one writer at a time")
    admin = await api.admin()
    top = await api.user("manager")
    managers = [await api.user("manager", superior=top["id"])]
    for _ in range(5):
        managers.append(await api.user("manager", superior=managers[-1]["id"]))

    async def move(user, superior):
        resp = await api.client.patch(f"/v1/users/{user['id']}", headers=admin, json={"superior_id": superior["id"]})
        assert resp.status_code in (200, 409), resp.text  # 409: that move would have made a cycle by then

    async def sign_up(superior):
        resp = await api.client.post("/v1/users", headers=admin, json={
            "email": f"race.{uuid.uuid4().hex[:8]}@example.com", "name": "r", "role": "rep", "password": "lamp-tiger-7",
            "superior_id": superior["id"]})
        assert resp.status_code == 201, resp.text

    for round_ in range(3):
        jobs = [move(managers[i], managers[(i + 2 + round_) % len(managers)] if i % 2 else top)
                for i in range(1, len(managers))]
        jobs += [sign_up(m) for m in managers for _ in range(2)]
        await asyncio.gather(*jobs)

    async with api.runtime.db.session() as session:
        rows = {r.id: r for r in (await session.execute(select(users.c.id, users.c.superior_id, users.c.path))).all()}
    for row in rows.values():
        expected = (rows[row.superior_id].path if row.superior_id else "/") + row.id.hex + "/"
        assert row.path == expected, f"user {row.id}: stored {row.path}, expected {expected}"
