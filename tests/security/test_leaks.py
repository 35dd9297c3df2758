"""No sideways leaks (issue 13, item 2), on the session's real stack: a reference to a record the caller
may not see is refused exactly as a direct read of it would be, whether or not the replica has caught
up, and aggregates count only what the caller may see.

Each test builds two teams of its own (a manager and a rep each): team B's records must not reach
team A through a reference, a duplicate check, the capacity view or an incentive plan.
"""
import random
import uuid

import pytest

from account_svc.accounts.domain.credit_code import generate
from kam_shared.testing import StackClient, wait_for

PASSWORD = "lamp-tiger-7"


def team(api: StackClient, admin: dict, label: str) -> tuple[dict, dict]:
    tag = uuid.uuid4().hex[:6]
    auth, ids = {}, {}
    for role, superior in (("manager", None), ("rep", "manager")):
        email = f"{label}-{role}.{tag}@leaks.test"
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": f"{label} {role} {tag}", "role": role, "password": PASSWORD,
            **({"superior_id": ids[superior]} if superior else {})})
        assert resp.status_code == 201, resp.text
        ids[role], auth[role] = resp.json()["id"], api.token(email, PASSWORD)
    return auth, ids


@pytest.fixture
def teams(stack, org):
    api, shared_auth, _ = org
    a_auth, a_ids = team(api, shared_auth["admin"], "a")
    b_auth, b_ids = team(api, shared_auth["admin"], "b")
    return api, shared_auth["admin"], (a_auth, a_ids), (b_auth, b_ids)


def account(api, auth, **fields) -> dict:
    resp = api.call("POST", "account-svc", "/v1/accounts", auth,
                    json={"name": f"Leak Target {uuid.uuid4().hex[:8]} Ltd", **fields})
    assert resp.status_code == 201, resp.text
    return resp.json()


def new_opportunity(api, auth, account_id: str, owner_id: str, amount: str = "1000.00"):
    return api.call("POST", "opportunity-svc", "/v1/opportunities", auth, json={
        "account_id": account_id, "name": "Probe", "amount": amount, "currency": "CNY",
        "close_date": "2026-11-30", "owner_id": owner_id})


def assert_like_missing(resp, missing, account_id: str, missing_id: str) -> None:
    """The refusal of an invisible account is the refusal of one that does not exist, word for word."""
    assert resp.status_code == missing.status_code == 422, (resp.text, missing.text)
    body, other = resp.json(), missing.json()
    assert body["detail"].replace(account_id, "X") == other["detail"].replace(missing_id, "X")
    assert [e.get("field") for e in body.get("errors", [])] == [e.get("field") for e in other.get("errors", [])]
    assert "account_id" in resp.text


def test_an_opportunity_on_an_account_the_caller_may_not_see_is_refused_like_a_missing_one(teams):
    api, admin, (a, a_ids), (b, b_ids) = teams
    target = account(api, b["rep"])
    assert api.call("GET", "account-svc", f"/v1/accounts/{target['id']}", a["rep"]).status_code == 404
    missing_id = str(uuid.uuid4())
    missing = new_opportunity(api, a["rep"], missing_id, a_ids["rep"])

    # Straight after the create: opportunity-svc's replica may not know the account yet (account-svc is asked).
    early = new_opportunity(api, a["rep"], target["id"], a_ids["rep"])
    assert_like_missing(early, missing, target["id"], missing_id)
    # Once the replica surely knows it (its owner created an opportunity on it): the same answer.
    assert new_opportunity(api, b["rep"], target["id"], b_ids["rep"]).status_code == 201
    for who in ("rep", "manager"):
        late = new_opportunity(api, a[who], target["id"], a_ids[who])
        assert_like_missing(late, missing, target["id"], missing_id)
    listed = api.call("GET", "opportunity-svc", "/v1/opportunities", admin,
                      params={"account_id": target["id"], "limit": 50})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1, listed.text  # nothing written

    # Given to team A's rep, it is theirs to sell on at once (account-svc is asked while the replica lags).
    moved = api.call("POST", "account-svc", f"/v1/accounts/{target['id']}/reassign", admin,
                     json={"owner_id": a_ids["rep"], "reason": "territory change"})
    assert moved.status_code == 200, moved.text
    assert new_opportunity(api, a["rep"], target["id"], a_ids["rep"]).status_code == 201
    # ... and no longer B's rep's: once the replica has the reassignment, B's rep is refused like a stranger.
    wait_for(lambda: new_opportunity(api, b["rep"], target["id"], b_ids["rep"]).status_code,
             lambda status: status == 422, timeout=30)


def test_a_contact_of_an_account_the_caller_may_not_see_cannot_be_named_on_a_plan(teams):
    api, _, (a, a_ids), (b, _b_ids) = teams
    theirs = account(api, b["rep"])
    contact = api.call("POST", "account-svc", f"/v1/accounts/{theirs['id']}/contacts", b["rep"],
                       json={"name": "Secret Buyer"})
    assert contact.status_code == 201, contact.text
    mine = account(api, a["rep"])
    for contact_id in (contact.json()["id"], str(uuid.uuid4())):
        resp = api.call("POST", "account-svc", f"/v1/accounts/{mine['id']}/plans", a["rep"], json={
            "title": "FY plan", "period": "2026", "coverage": [{"user_id": a_ids["rep"], "contact_id": contact_id}]})
        assert resp.status_code == 422, resp.text
        assert "coverage[0].contact_id" in resp.text and "Secret Buyer" not in resp.text
        assert resp.json()["detail"].replace(contact_id, "X").endswith(f"is not a contact of account {mine['id']}")


def test_duplicate_check_and_409_of_an_invisible_account_say_only_that_it_exists_and_who_owns_it(teams):
    api, _, (a, _a_ids), (b, b_ids) = teams
    name = f"Hidden Works {uuid.uuid4().hex[:8]} Co., Ltd."
    credit_code = generate(random.Random())
    theirs = account(api, b["rep"], name=name, region="Secret Valley", credit_code=credit_code)

    found = api.call("GET", "account-svc", "/v1/accounts/duplicates", a["rep"], params={"name": name})
    assert found.status_code == 200, found.text
    candidate, = [c for c in found.json()["candidates"] if c["owner_id"] == b_ids["rep"]]
    assert candidate == {"id": None, "name": None, "credit_code": None, "region": None, "score": 95,
                         "exact": True, "reasons": [], "visible": False, "owner_id": b_ids["rep"]}
    for secret in (theirs["id"], "Secret Valley", credit_code, "Hidden Works"):
        assert secret not in found.text
    by_code = api.call("GET", "account-svc", "/v1/accounts/duplicates", a["rep"], params={"credit_code": credit_code})
    assert by_code.json()["candidates"][0]["owner_id"] == b_ids["rep"] and theirs["id"] not in by_code.text
    # Their own owner sees it in full.
    own = api.call("GET", "account-svc", "/v1/accounts/duplicates", b["rep"], params={"name": name}).json()
    assert own["candidates"][0]["id"] == theirs["id"] and own["candidates"][0]["region"] == "Secret Valley"

    for params in ({}, {"on_duplicate": "enrich"}):
        refused = api.call("POST", "account-svc", "/v1/accounts", a["rep"], params=params,
                           json={"name": name.upper(), "credit_code": credit_code})
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["owner_id"] == b_ids["rep"] and body["visible"] is False and "existing_id" not in body
        for secret in (theirs["id"], "Secret Valley"):
            assert secret not in refused.text
    mine = account(api, a["rep"])
    renamed = api.call("PATCH", "account-svc", f"/v1/accounts/{mine['id']}", a["rep"], json={"name": name})
    assert renamed.status_code == 409 and theirs["id"] not in renamed.text, renamed.text
    # The owner's own duplicate still names the existing account, to open it.
    again = api.call("POST", "account-svc", "/v1/accounts", b["rep"], json={"name": name})
    assert again.status_code == 409 and again.json()["existing_id"] == theirs["id"], again.text


def test_capacity_counts_only_accounts_and_pipeline_the_caller_may_see(teams):
    api, admin, (a, a_ids), (b, b_ids) = teams
    region = f"Leak-{uuid.uuid4().hex[:6]}"
    territory = api.call("POST", "team-svc", "/v1/territories", admin, json={
        "name": f"Territory {region}", "owner_id": a_ids["manager"],
        "rules": [{"name": region, "priority": 1, "regions": [region]}]})
    assert territory.status_code == 201, territory.text
    tid = territory.json()["id"]
    theirs = account(api, b["rep"], region=region, owner_id=b_ids["rep"])
    assert new_opportunity(api, b["rep"], theirs["id"], b_ids["rep"], "777777.00").status_code == 201
    mine = account(api, a["rep"], region=region, owner_id=a_ids["rep"])
    assert new_opportunity(api, a["rep"], mine["id"], a_ids["rep"], "1000.00").status_code == 201

    def row(auth):
        resp = api.call("GET", "team-svc", "/v1/capacity", auth)
        assert resp.status_code == 200, resp.text
        return next((t for t in resp.json()["territories"] if t["territory_id"] == tid), None), resp.text

    # The admin's view has both once team-svc's replicas caught up: the data is there to leak.
    wait_for(lambda: row(admin)[0], lambda t: t and t["accounts"] == 2 and t["open_count"] == 2, timeout=60)
    seen, text = row(a["manager"])
    assert (seen["accounts"], seen["open_count"], seen["open_pipeline_amount"]) == (1, 1, "1000.00"), seen
    assert "777777" not in text and "778777" not in text
    assert b_ids["rep"] not in text


def test_an_incentive_plan_shows_a_participant_only_themselves_and_no_cost_totals(teams):
    api, admin, (a, a_ids), (b, b_ids) = teams
    plan = api.call("POST", "team-svc", "/v1/incentive-plans", admin, json={
        "name": f"Leak plan {uuid.uuid4().hex[:6]}", "currency": "CNY", "fiscal_year": "FY2029",
        "base_rate_percent": "3", "participant_ids": [a_ids["rep"], b_ids["rep"]]})
    assert plan.status_code == 201, plan.text
    pid = plan.json()["id"]
    analysed = api.call("POST", "team-svc", f"/v1/incentive-plans/{pid}/expected-cost", admin,
                        json={"period": "FY2029-Q1"})
    assert analysed.status_code == 200, analysed.text

    full = api.call("GET", "team-svc", f"/v1/incentive-plans/{pid}", admin).json()
    assert sorted(full["participant_ids"]) == sorted([a_ids["rep"], b_ids["rep"]]) and full["cost_analyses"]
    for who in ("rep", "manager"):
        seen = api.call("GET", "team-svc", f"/v1/incentive-plans/{pid}", a[who])
        assert seen.status_code == 200, seen.text
        body = seen.json()
        assert body["participant_ids"] == [a_ids["rep"]] and body["participant_count"] == 2
        assert body["cost_analyses"] is None and b_ids["rep"] not in seen.text
        listed = api.call("GET", "team-svc", "/v1/incentive-plans", a[who], params={"limit": 200})
        item, = [p for p in listed.json()["items"] if p["id"] == pid]
        assert item["participant_ids"] == [a_ids["rep"]]


def test_a_sales_team_member_the_caller_may_not_see_is_listed_without_a_name(teams):
    api, _, (a, a_ids), (b, b_ids) = teams
    mine = account(api, a["rep"])
    opp = new_opportunity(api, a["rep"], mine["id"], a_ids["rep"])
    assert opp.status_code == 201, opp.text
    oid = opp.json()["id"]
    added = api.call("PUT", "opportunity-svc", f"/v1/opportunities/{oid}/team/{b_ids['rep']}", a["rep"],
                     json={"role": "presales"})
    assert added.status_code == 200, added.text
    members = api.call("GET", "opportunity-svc", f"/v1/opportunities/{oid}/team", a["rep"]).json()
    stranger, = [m for m in members if m["user_id"] == b_ids["rep"]]
    assert stranger["name"] is None
    own, = [m for m in members if m["user_id"] == a_ids["rep"]]
    assert own["name"]
