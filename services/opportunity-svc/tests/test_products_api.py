"""The product catalogue over HTTP: admins add and change products (If-Match, events), everyone lists
them (paged, by family and active); opportunity lines must name a known, active product."""
import json

from kam_shared.testing import bearer


async def test_admin_adds_and_changes_a_product_with_events(world, problem):
    admin = await world.user("admin")
    code = f"CB-{(await world.user()).hex[:8]}"
    created = await world.client.post("/v1/products", headers=bearer(admin),
                                      json={"code": code, "name": "Core banking licence", "family": " Software "})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["family"], body["active"], body["version"]) == (code, "software", True, 1)
    assert created.headers["etag"] == '"1"' and created.headers["location"] == f"/v1/products/{code}"
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.product_created.v1" and event["data"]["product"]["code"] == code
    # the same code again: 409 naming the code, nothing written
    marker = await world.unchanged()
    problem(await world.client.post("/v1/products", headers=bearer(admin),
                                    json={"code": code, "name": "Other", "family": "software"}), 409, "code")
    await world.assert_unchanged(marker)
    # PATCH by code with a stale If-Match: 412; by id with the right one: changed, one event with from/to
    problem(await world.client.patch(f"/v1/products/{code}", headers={**bearer(admin), "If-Match": '"7"'},
                                     json={"active": False}), 412, "")
    changed = await world.client.patch(f"/v1/products/{body['id']}", headers={**bearer(admin), "If-Match": '"1"'},
                                       json={"family": "Licences", "active": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["family"], changed.json()["active"], changed.json()["version"]) == ("licences", False, 2)
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.product_updated.v1" and event["sequence"] == 2
    assert event["data"]["changes"] == {"family": {"from": "software", "to": "licences"},
                                        "active": {"from": True, "to": False}}
    # nothing changed: no new version, no event
    marker = await world.unchanged()
    same = await world.client.patch(f"/v1/products/{code}", headers=bearer(admin), json={"active": False})
    assert same.json()["version"] == 2
    await world.assert_unchanged(marker)


async def test_only_admins_change_the_catalogue_and_bad_input_names_the_field(world, problem):
    rep = await world.user()
    admin = await world.user("admin")
    code = await world.product()
    marker = await world.unchanged()
    problem(await world.client.post("/v1/products", headers=bearer(rep),
                                    json={"code": "REP-1", "name": "x", "family": "y"}), 403, "admin")
    problem(await world.client.patch(f"/v1/products/{code}", headers=bearer(rep), json={"name": "x"}), 403, "admin")
    problem(await world.client.post("/v1/products", headers=bearer(admin),
                                    json={"code": "bad code!", "name": "x", "family": "y"}), 422, "code")
    problem(await world.client.post("/v1/products", headers=bearer(admin),
                                    json={"code": "OK-1", "name": "x", "family": "   "}), 422, "family")
    problem(await world.client.patch(f"/v1/products/{code}", headers=bearer(admin), json={"code": "NEW"}),
            422, "code")
    problem(await world.client.patch(f"/v1/products/{code}", headers=bearer(admin), json={"name": None}),
            422, "name")
    problem(await world.client.patch("/v1/products/NO-SUCH-PRODUCT", headers=bearer(admin), json={"name": "x"}),
            404, "NO-SUCH-PRODUCT")
    await world.assert_unchanged(marker)


async def test_list_is_paged_and_filtered_by_family_and_active(world):
    rep = await world.user()
    family = f"fam-{rep.hex[:8]}"
    codes = sorted([await world.product(family, f"Item {i}") for i in range(3)])
    admin = await world.user("admin")
    await world.client.patch(f"/v1/products/{codes[1]}", headers=bearer(admin), json={"active": False})
    first = (await world.client.get("/v1/products", headers=bearer(rep),
                                    params={"family": family.upper(), "limit": 2})).json()
    assert [p["code"] for p in first["items"]] == codes[:2] and first["next_cursor"]
    rest = (await world.client.get("/v1/products", headers=bearer(rep),
                                   params={"family": family, "limit": 2, "cursor": first["next_cursor"]})).json()
    assert [p["code"] for p in rest["items"]] == codes[2:] and rest["next_cursor"] is None
    active = (await world.client.get("/v1/products", headers=bearer(rep),
                                     params={"family": family, "active": "true"})).json()
    assert [p["code"] for p in active["items"]] == [codes[0], codes[2]]


async def test_a_line_naming_an_inactive_or_unknown_product_is_refused_naming_the_line(world, problem):
    rep = await world.user()
    admin = await world.user("admin")
    o = await world.opportunity(rep)
    good, retired = await world.product(), await world.product()
    await world.client.patch(f"/v1/products/{retired}", headers=bearer(admin), json={"active": False})
    url = f"/v1/opportunities/{o['id']}"
    marker = await world.unchanged()
    problem(await world.client.patch(url, headers=bearer(rep), json={"lines": [
        {"product_code": good, "quantity": 1}, {"product_code": retired, "quantity": 1}]}), 422, "lines.1")
    problem(await world.client.patch(url, headers=bearer(rep), json={"lines": [
        {"product_code": "NOT-IN-CATALOGUE", "quantity": 1}]}), 422, "lines.0.product_code")
    await world.assert_unchanged(marker)
    ok = await world.client.patch(url, headers=bearer(rep), json={"lines": [{"product_code": good, "quantity": 2}]})
    assert ok.status_code == 200 and ok.json()["lines"][0]["product_code"] == good
