"""Account teams and account health across services (real processes over HTTP, real broker): a member
of an account team from another manager's team sees the account in account-svc and, once
opportunity-svc's replica has the team, its opportunities; taken off the team, they see neither. A
lost opportunity reaches account-svc's replica and the account's health names the competitor."""
import datetime as dt
import uuid

from kam_shared.testing import wait_for


def fresh_team(api, admin) -> tuple[dict, dict]:
    """A manager and a rep of their own (as in test_end_to_end.py): no other test's data in their scope."""
    tag = uuid.uuid4().hex[:6]
    auth, ids = {}, {}
    for role, superior in (("manager", None), ("rep", "manager")):
        email = f"{role}.{tag}@teams.test"
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": f"{role} {tag}", "role": role, "password": "lamp-tiger-7",
            **({"superior_id": ids[superior]} if superior else {})})
        assert resp.status_code == 201, resp.text
        ids[role], auth[role] = resp.json()["id"], api.token(email, "lamp-tiger-7")
    return auth, ids


def status(resp) -> int:
    return resp.status_code


def test_account_team_member_from_another_team_sees_account_and_opportunity_until_removed(stack, org):
    api, shared_auth, _ = org
    owners, owner_ids = fresh_team(api, shared_auth["admin"])
    others, other_ids = fresh_team(api, shared_auth["admin"])  # another manager's team
    member, member_id = others["rep"], other_ids["rep"]
    account = api.call("POST", "account-svc", "/v1/accounts", owners["rep"], json={"name": "Team Selling Bank"})
    assert account.status_code == 201, account.text
    account_id, version = account.json()["id"], account.json()["version"]
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", owners["rep"], json={
        "account_id": account_id, "name": "Data centre", "amount": "300000.00", "currency": "CNY",
        "close_date": "2026-12-20", "owner_id": owner_ids["rep"]})
    assert opp.status_code == 201, opp.text
    opp_url = f"/v1/opportunities/{opp.json()['id']}"
    assert status(api.call("GET", "account-svc", f"/v1/accounts/{account_id}", member)) == 404
    assert status(api.call("GET", "opportunity-svc", opp_url, member)) == 404

    added = api.call("PUT", "account-svc", f"/v1/accounts/{account_id}/team/{member_id}",
                     {**owners["rep"], "If-Match": f'"{version}"'}, json={"role": "technical"})
    assert added.status_code == 200, added.text
    assert [m["role"] for m in added.json()["members"]] == ["account_manager", "technical"]
    assert status(api.call("GET", "account-svc", f"/v1/accounts/{account_id}", member)) == 200
    wait_for(lambda: api.call("GET", "opportunity-svc", opp_url, member), lambda r: r.status_code == 200, timeout=60)
    listed = api.call("GET", "opportunity-svc", "/v1/opportunities?limit=1000", member).json()["items"]
    assert opp.json()["id"] in [o["id"] for o in listed]

    removed = api.call("DELETE", "account-svc", f"/v1/accounts/{account_id}/team/{member_id}", owners["manager"])
    assert removed.status_code == 200, removed.text
    assert status(api.call("GET", "account-svc", f"/v1/accounts/{account_id}", member)) == 404
    wait_for(lambda: api.call("GET", "opportunity-svc", opp_url, member), lambda r: r.status_code == 404, timeout=60)
    listed = api.call("GET", "opportunity-svc", "/v1/opportunities?limit=1000", member).json()["items"]
    assert opp.json()["id"] not in [o["id"] for o in listed]


def test_a_lost_opportunity_shows_in_the_accounts_health_with_the_competitor(stack, org):
    api, shared_auth, _ = org
    auth, ids = fresh_team(api, shared_auth["admin"])
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Churning Bank"})
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": account_id, "name": "Renewal", "amount": "80000.00", "currency": "CNY",
        "close_date": today, "owner_id": ids["rep"]})
    assert opp.status_code == 201, opp.text
    lost = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp.json()['id']}/close", auth["rep"],
                    json={"outcome": "lost", "reason": "price", "competitor": "Huawei"})
    assert lost.status_code == 200, lost.text

    def lost_part():
        health = api.call("GET", "account-svc", f"/v1/accounts/{account_id}/health", auth["manager"]).json()
        return {p["key"]: p for p in health.get("parts", [])}.get("lost_deals", {})

    part, _ = wait_for(lost_part, lambda p: p.get("facts", {}).get("by_competitor") == {"Huawei": 1}, timeout=60)
    assert "1 to Huawei" in part["summary"] and part["score"] < 100
