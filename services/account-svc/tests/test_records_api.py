"""Contacts (buying centre), competitor intelligence, plans, interactions and complaints over HTTP."""
import json
import uuid

import pytest

from kam_shared.testing import bearer, outbox_rows


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"] + str(resp.json().get("field", "")), resp.json()


async def events_since(client, before):
    """The record events since `before`. A change to a complaint or an interaction also recomputes the
    account's health, which publishes `health_changed` when the score crosses a band: whether it does
    depends on today's date (recency, complaint age), so those are left to test_health_and_team_api."""
    rows = (await outbox_rows(client.runtime))[before:]
    return [(r["event_type"], r["message_key"], json.loads(r["payload"])["data"]) for r in rows
            if r["event_type"] != "kam.account.health_changed.v1"]


@pytest.fixture
async def account(accounts, people):
    resp = await accounts.post("/v1/accounts", headers=bearer(people.rep), json={"name": f"Records {uuid.uuid4().hex}"})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def add(client, who, account_id, kind, body, expect=201):
    resp = await client.post(f"/v1/accounts/{account_id}/{kind}", headers=bearer(who), json=body)
    assert resp.status_code == expect, resp.text
    return resp.json()


# --- contacts and the buying centre -------------------------------------------------------------------

async def test_contacts_make_up_the_buying_centre_and_its_gaps(accounts, people, account):
    a = account["id"]
    before = len(await outbox_rows(accounts.runtime))
    cio = await add(accounts, people.rep, a, "contacts", {
        "name": "王伟", "title": "CIO", "department": "using", "level": "executive", "buying_role": "decision_maker",
        "attitude": "supporter", "relationship_strength": "weak"})
    assert cio["version"] == 1 and cio["active"] is True and cio["account_id"] == a
    (event_type, key, data), = await events_since(accounts, before)
    assert event_type == "kam.account.contact_added.v1" and key == cio["id"] and data["contact"]["name"] == "王伟"
    buyer = await add(accounts, people.rep, a, "contacts", {"name": "Li Na", "department": "procurement",
                                                            "buying_role": "procurement", "reports_to_id": cio["id"]})
    centre = (await accounts.get(f"/v1/accounts/{a}/buying-centre", headers=bearer(people.rep))).json()
    codes = [g["code"] for g in centre["gaps"]]
    assert "no_decision_maker" not in codes and "no_executive_contact" not in codes
    assert {"weak_decision_maker_relationship", "no_coach", "no_support_contact"} <= set(codes)
    assert centre["counts"]["by_buying_role"] == {"decision_maker": 1, "procurement": 1}
    assert centre["org_chart"][0]["id"] == cio["id"] and centre["org_chart"][0]["reports"][0]["id"] == buyer["id"]

    before = len(await outbox_rows(accounts.runtime))
    changed = await accounts.patch(f"/v1/contacts/{cio['id']}", headers={**bearer(people.rep), "If-Match": '"1"'},
                                   json={"relationship_strength": "strong", "attitude": "supporter"})
    assert changed.status_code == 200 and changed.json()["version"] == 2 and changed.headers["etag"] == '"2"'
    (event_type, _, data), = await events_since(accounts, before)
    assert event_type == "kam.account.contact_updated.v1"
    assert data["changes"] == {"relationship_strength": {"from": "weak", "to": "strong"}}
    gone = await accounts.patch(f"/v1/contacts/{buyer['id']}", headers=bearer(people.rep), json={"active": False})
    assert gone.json()["active"] is False
    listed = (await accounts.get(f"/v1/accounts/{a}/contacts", headers=bearer(people.rep),
                                 params={"active": "true"})).json()["items"]
    assert [c["id"] for c in listed] == [cio["id"]]
    centre = (await accounts.get(f"/v1/accounts/{a}/buying-centre", headers=bearer(people.rep))).json()
    assert "no_procurement_contact" in [g["code"] for g in centre["gaps"]] and centre["contacts"] == 1


async def test_org_chart_cycles_and_foreign_contacts_are_refused(accounts, people, account, snapshot_counts):
    a = account["id"]
    boss = await add(accounts, people.rep, a, "contacts", {"name": "Boss"})
    mid = await add(accounts, people.rep, a, "contacts", {"name": "Mid", "reports_to_id": boss["id"]})
    low = await add(accounts, people.rep, a, "contacts", {"name": "Low", "reports_to_id": mid["id"]})
    elsewhere = (await accounts.post("/v1/accounts", headers=bearer(people.rep),
                                     json={"name": f"Elsewhere {uuid.uuid4().hex}"})).json()
    stranger = await add(accounts, people.rep, elsewhere["id"], "contacts", {"name": "Stranger"})
    before = await snapshot_counts()
    rep = bearer(people.rep)
    assert_problem(await accounts.patch(f"/v1/contacts/{boss['id']}", headers=rep,
                                        json={"reports_to_id": low["id"]}), 409, "cycle")
    assert_problem(await accounts.patch(f"/v1/contacts/{boss['id']}", headers=rep,
                                        json={"reports_to_id": boss["id"]}), 409, "reports_to_id")
    assert_problem(await accounts.patch(f"/v1/contacts/{boss['id']}", headers=rep,
                                        json={"reports_to_id": stranger["id"]}), 422, "reports_to_id")
    for body, mentions in [({"name": ""}, "name"), ({"name": "X", "buying_role": "wizard"}, "buying_role"),
                           ({"name": "X", "department": "sales"}, "department"),
                           ({"name": "X", "level": "god"}, "level"),
                           ({"name": "X", "attitude": "angry"}, "attitude"), ({"title": "no name"}, "name"),
                           ({"name": "X", "reports_to_id": str(uuid.uuid4())}, "reports_to_id")]:
        assert_problem(await accounts.post(f"/v1/accounts/{a}/contacts", headers=rep, json=body), 422, mentions)
    assert_problem(await accounts.patch(f"/v1/contacts/{mid['id']}", headers={**rep, "If-Match": '"9"'},
                                        json={"title": "x"}), 412, "version 1")
    assert_problem(await accounts.get(f"/v1/contacts/{mid['id']}", headers=bearer(people.other_rep)), 404, "not found")
    assert_problem(await accounts.post(f"/v1/accounts/{a}/contacts", headers=bearer(people.other_rep),
                                       json={"name": "Intruder"}), 404, "not found")
    assert await snapshot_counts() == before


# --- competitors ---------------------------------------------------------------------------------------

async def test_competitor_intelligence(accounts, people, account, snapshot_counts):
    a = account["id"]
    entry = await add(accounts, people.rep, a, "competitors", {
        "competitor": "Rival Systems", "products_in_use": "core banking v7", "customer_satisfaction": "low",
        "sales_rep": "Mr Zhao", "rep_relationship": "strong", "strengths": "price", "weaknesses": "service",
        "bottom_line": "15% discount"})
    changed = await accounts.patch(f"/v1/competitors/{entry['id']}", headers=bearer(people.rep),
                                   json={"customer_satisfaction": "very_low"})
    assert changed.json()["customer_satisfaction"] == "very_low" and changed.json()["version"] == 2
    listed = (await accounts.get(f"/v1/accounts/{a}/competitors", headers=bearer(people.manager, "manager"))).json()
    assert [c["competitor"] for c in listed["items"]] == ["Rival Systems"]
    before = await snapshot_counts()
    assert_problem(await accounts.post(f"/v1/accounts/{a}/competitors", headers=bearer(people.rep),
                                       json={"competitor": "X", "customer_satisfaction": "meh"}), 422,
                   "customer_satisfaction")
    assert_problem(await accounts.patch(f"/v1/competitors/{entry['id']}", headers=bearer(people.rep),
                                        json={"competitor": None}), 422, "competitor")
    assert await snapshot_counts() == before


# --- plans ---------------------------------------------------------------------------------------------

async def test_account_plan_with_coverage_actions_and_relationship_stage(accounts, people, account, snapshot_counts):
    a = account["id"]
    rep = bearer(people.rep)
    cfo = await add(accounts, people.rep, a, "contacts", {"name": "CFO", "level": "executive"})
    plan = await add(accounts, people.rep, a, "plans", {
        "title": "2027 account plan", "period": "2027", "value_proposition": "lower total cost",
        "objectives": [{"description": "win the core renewal", "measure": "contract signed", "target": "Q2"}],
        "coverage": [{"user_id": str(people.manager), "contact_id": cfo["id"]}],
        "actions": [{"description": "executive dinner", "owner_id": str(people.manager), "due_date": "2027-01-15"}],
        "sponsor_meetings": [{"date": "2027-02-01", "executive_id": str(people.director), "contact_id": cfo["id"]}]})
    assert (plan["status"], plan["relationship_stage"]) == ("draft", "building")
    action = plan["actions"][0]
    assert uuid.UUID(action["id"]) and action["status"] == "open"
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.patch(f"/v1/plans/{plan['id']}", headers={**rep, "If-Match": '"1"'}, json={
        "status": "active", "relationship_stage": "stable", "actions": [{**action, "status": "done"}]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["actions"][0]["id"] == action["id"] and resp.json()["actions"][0]["status"] == "done"
    (event_type, key, data), = await events_since(accounts, before)
    assert event_type == "kam.account.plan_updated.v1" and key == plan["id"]
    assert data["changes"]["relationship_stage"] == {"from": "building", "to": "stable"}
    assert data["changes"]["actions"]["from"][0]["status"] == "open"
    listed = (await accounts.get(f"/v1/accounts/{a}/plans", headers=rep, params={"status": "active"})).json()
    assert [p["id"] for p in listed["items"]] == [plan["id"]]

    before = await snapshot_counts()
    base = {"title": "x", "period": "2027"}
    for body, status, mentions in [
        ({**base, "period": "next year"}, 422, "period"),
        ({**base, "relationship_stage": "married"}, 422, "relationship_stage"),
        ({**base, "actions": [{"description": "x", "owner_id": str(uuid.uuid4()), "due_date": "2027-01-01"}]}, 422,
         "actions[0].owner_id"),
        ({**base, "actions": [{"description": "x", "owner_id": str(people.left), "due_date": "2027-01-01"}]}, 422,
         "inactive"),
        ({**base, "actions": [{"description": "x", "owner_id": str(people.rep)}]}, 422, "due_date"),
        ({**base, "coverage": [{"user_id": str(people.rep), "contact_id": str(uuid.uuid4())}]}, 422,
         "coverage[0].contact_id"),
    ]:
        assert_problem(await accounts.post(f"/v1/accounts/{a}/plans", headers=rep, json=body), status, mentions)
    assert await snapshot_counts() == before


# --- interactions --------------------------------------------------------------------------------------

async def test_interactions_record_visits_newest_first(accounts, people, account, snapshot_counts):
    a = account["id"]
    rep = bearer(people.rep)
    cio = await add(accounts, people.rep, a, "contacts", {"name": "CIO"})
    first = await add(accounts, people.rep, a, "interactions", {
        "kind": "visit", "occurred_at": "2026-10-01T09:00:00+08:00", "subject": "kick-off",
        "contact_ids": [cio["id"]], "next_step": "send proposal", "next_step_due": "2026-10-08"})
    assert first["our_attendee_ids"] == [str(people.rep)] and first["logged_by"] == str(people.rep)
    assert first["occurred_at"].startswith("2026-10-01T01:00:00")  # stored in UTC
    second = await add(accounts, people.rep, a, "interactions", {
        "kind": "seminar", "occurred_at": "2026-11-01T09:00:00Z", "subject": "tech day",
        "our_attendee_ids": [str(people.rep), str(people.manager)]})
    page = (await accounts.get(f"/v1/accounts/{a}/interactions", headers=rep, params={"limit": 1})).json()
    rest = (await accounts.get(f"/v1/accounts/{a}/interactions", headers=rep,
                               params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == [second["id"], first["id"]]
    fixed = await accounts.patch(f"/v1/interactions/{first['id']}", headers=rep, json={"notes": "CIO wants a PoC"})
    assert fixed.json()["version"] == 2

    before = await snapshot_counts()
    base = {"kind": "call", "occurred_at": "2026-10-01T09:00:00Z", "subject": "x"}
    for body, mentions in [({**base, "kind": "telepathy"}, "kind"), ({**base, "occurred_at": "2026-10-01T09:00:00"},
                                                                       "occurred_at"),
                           ({**base, "contact_ids": [str(uuid.uuid4())]}, "contact_ids[0]"),
                           ({**base, "our_attendee_ids": [str(uuid.uuid4())]}, "our_attendee_ids[0]"),
                           ({k: v for k, v in base.items() if k != "subject"}, "subject")]:
        assert_problem(await accounts.post(f"/v1/accounts/{a}/interactions", headers=rep, json=body), 422, mentions)
    assert await snapshot_counts() == before


# --- complaints ----------------------------------------------------------------------------------------

async def test_complaint_status_flow_and_resolution_time(accounts, people, account, snapshot_counts):
    a = account["id"]
    rep = bearer(people.rep)
    complaint = await add(accounts, people.rep, a, "complaints", {
        "subject": "ATM outage", "severity": "high", "raised_at": "2026-11-01T08:00:00Z",
        "assignee_id": str(people.peer)})
    assert (complaint["status"], complaint["resolved_at"], complaint["resolution_minutes"]) == ("open", None, None)
    url = f"/v1/complaints/{complaint['id']}"
    before = await snapshot_counts()
    assert_problem(await accounts.patch(url, headers=rep, json={"status": "resolved"}), 422, "resolution")
    assert_problem(await accounts.patch(url, headers=rep, json={"status": "done"}), 422, "status")
    assert_problem(await accounts.patch(url, headers=rep, json={"assignee_id": str(people.left)}), 422, "inactive")
    assert await snapshot_counts() == before
    events_before = len(await outbox_rows(accounts.runtime))
    resolved = (await accounts.patch(url, headers=rep, json={"status": "resolved", "resolution": "replaced board"}))
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolved_at"] and body["resolution_minutes"] > 0
    (event_type, _, data), = await events_since(accounts, events_before)
    assert event_type == "kam.account.complaint_updated.v1"
    assert data["changes"]["status"] == {"from": "open", "to": "resolved"}
    assert data["complaint"]["resolution_minutes"] == body["resolution_minutes"]
    closed = (await accounts.patch(url, headers=rep, json={"status": "closed"})).json()
    assert closed["resolved_at"] == body["resolved_at"]
    assert_problem(await accounts.patch(url, headers=rep, json={"status": "in_progress"}), 409, "closed")
    reopened = (await accounts.patch(url, headers=rep, json={"status": "open"})).json()
    assert reopened["resolved_at"] is None and reopened["resolution_minutes"] is None
    listed = (await accounts.get(f"/v1/accounts/{a}/complaints", headers=rep, params={"status": "open"})).json()
    assert [c["id"] for c in listed["items"]] == [complaint["id"]]
