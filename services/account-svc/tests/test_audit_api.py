"""The audit trail of accounts and their records (kam_shared.audit) over HTTP: field diffs with the
actor, keyset paging, 404 for a record the caller may not see, the admin query across records."""
import uuid

from kam_shared.audit import AuditPage
from kam_shared.testing import bearer


def as_documented(body: dict) -> dict:
    """The page is serialised as built, not through its response model: it must be exactly what the
    model would have answered (valid, and unchanged by a validate-and-dump round trip)."""
    assert AuditPage.model_validate(body).model_dump(mode="json", by_alias=True) == body
    return body


async def _account(accounts, who):
    resp = await accounts.post("/v1/accounts", headers=bearer(who), json={
        "name": f"Audit {uuid.uuid4().hex}", "industry": "banking", "region": "north"})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _patch(accounts, who, path, version, body):
    resp = await accounts.patch(path, headers={**bearer(who), "If-Match": f'"{version}"'}, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_account_history_says_who_changed_which_field_from_what_to_what(accounts, people):
    account = await _account(accounts, people.rep)
    path = f"/v1/accounts/{account['id']}"
    await _patch(accounts, people.rep, path, 1, {"region": "south"})
    await _patch(accounts, people.manager, path, 2, {"region": "east", "website": "https://audit.example"})

    resp = await accounts.get(f"{path}/history", headers=bearer(people.rep))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    created, first, second = as_documented(resp.json())["items"]
    assert created["event_type"] == "kam.account.created.v1" and created["version"] == 1
    assert created["actor_id"] == str(people.rep)
    assert {"field": "region", "from": None, "to": "north"} in created["changes"]
    assert first["actor_id"] == str(people.rep) and first["version"] == 2
    assert first["changes"] == [{"field": "region", "from": "north", "to": "south"}]
    assert second["actor_id"] == str(people.manager)
    assert second["changes"] == [{"field": "region", "from": "south", "to": "east"},
                                 {"field": "website", "from": None, "to": "https://audit.example"}]
    assert created["at"] <= first["at"] <= second["at"]

    # Keyset paging: one entry per page, each diffed against the state before it, not against nothing.
    page1 = (await accounts.get(f"{path}/history?limit=2", headers=bearer(people.rep))).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = as_documented((await accounts.get(f"{path}/history?limit=2&cursor={page1['next_cursor']}",
                                             headers=bearer(people.rep))).json())
    assert page2["items"] == [second] and page2["next_cursor"] is None


async def test_history_of_a_record_you_may_not_see_is_404_like_a_direct_read(accounts, people):
    account = await _account(accounts, people.rep)
    path = f"/v1/accounts/{account['id']}"
    assert (await accounts.get(path, headers=bearer(people.other_rep))).status_code == 404
    resp = await accounts.get(f"{path}/history", headers=bearer(people.other_rep))
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/problem+json")
    assert (await accounts.get(f"/v1/accounts/{uuid.uuid4()}/history", headers=bearer(people.admin))).status_code == 404
    bad = await accounts.get(f"{path}/history?cursor=not-a-cursor", headers=bearer(people.rep))
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


async def test_contact_and_plan_histories(accounts, people):
    account = await _account(accounts, people.rep)
    contact = await accounts.post(f"/v1/accounts/{account['id']}/contacts", headers=bearer(people.rep),
                                  json={"name": "Zhou Min", "attitude": "neutral"})
    assert contact.status_code == 201, contact.text
    contact = contact.json()
    await _patch(accounts, people.rep, f"/v1/contacts/{contact['id']}", 1, {"attitude": "supporter"})
    items = (await accounts.get(f"/v1/contacts/{contact['id']}/history",
                                headers=bearer(people.manager))).json()["items"]
    assert [i["event_type"] for i in items] == ["kam.account.contact_added.v1", "kam.account.contact_updated.v1"]
    assert items[1]["changes"] == [{"field": "attitude", "from": "neutral", "to": "supporter"}]
    assert (await accounts.get(f"/v1/contacts/{contact['id']}/history",
                               headers=bearer(people.other_rep))).status_code == 404
    # An account id is not a contact: the contact route does not show the account's history.
    assert (await accounts.get(f"/v1/contacts/{account['id']}/history",
                               headers=bearer(people.admin))).status_code == 404

    plan = await accounts.post(f"/v1/accounts/{account['id']}/plans", headers=bearer(people.rep),
                               json={"title": "FY plan", "period": "2026"})
    assert plan.status_code == 201, plan.text
    items = (await accounts.get(f"/v1/plans/{plan.json()['id']}/history", headers=bearer(people.rep))).json()["items"]
    assert items[0]["event_type"] == "kam.account.plan_created.v1"
    assert {"field": "title", "from": None, "to": "FY plan"} in items[0]["changes"]


async def test_admin_queries_the_trail_across_records_by_actor_time_and_type(accounts, people):
    before = (await accounts.get("/v1/admin/audit?limit=1", headers=bearer(people.admin)))
    assert before.status_code == 200, before.text
    account = await _account(accounts, people.peer)
    await _patch(accounts, people.peer, f"/v1/accounts/{account['id']}", 1, {"region": "west"})
    since = account["created_at"] if "created_at" in account else "2000-01-01T00:00:00Z"
    resp = await accounts.get("/v1/admin/audit", headers=bearer(people.admin), params={
        "actor": str(people.peer), "from": since, "type": "kam.account.updated.v1"})
    assert resp.status_code == 200, resp.text
    mine = [i for i in as_documented(resp.json())["items"] if i["subject"] == account["id"]]
    assert len(mine) == 1 and mine[0]["changes"] == [{"field": "region", "from": "north", "to": "west"}]
    assert all(i["actor_id"] == str(people.peer) and i["event_type"] == "kam.account.updated.v1"
               for i in resp.json()["items"])
    empty = await accounts.get("/v1/admin/audit", headers=bearer(people.admin),
                               params={"actor": str(people.peer), "to": "2000-01-01T00:00:00Z"})
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert (await accounts.get("/v1/admin/audit", headers=bearer(people.manager))).status_code == 403
    backwards = await accounts.get("/v1/admin/audit", headers=bearer(people.admin),
                                   params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    assert backwards.status_code == 422 and backwards.json()["field"] == "to"
