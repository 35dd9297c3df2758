"""Rebalancing territories in team-svc moves an account in account-svc: the proposal sees team-svc's
replica of the account, applying it publishes one event, and account-svc's territory assignment
consumer reassigns the account to the new territory's manager (real broker, services as processes)."""
import uuid

from kam_shared.testing import wait_for


def _user(api, admin, role, tag, superior=None):
    email = f"{role}.{tag}.{uuid.uuid4().hex[:4]}@e2e.test"
    resp = api.call("POST", "team-svc", "/v1/users", admin, json={
        "email": email, "name": f"{role} {tag}", "role": role, "password": "lamp-tiger-7",
        **({"superior_id": superior} if superior else {})})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"], api.token(email, "lamp-tiger-7")


def test_rebalancing_moves_an_accounts_territory_in_account_svc(stack, org):
    api, auth, _ = org
    admin = auth["admin"]
    tag = uuid.uuid4().hex[:6]
    manager, manager_auth = _user(api, admin, "manager", tag)
    rep_a, rep_a_auth = _user(api, admin, "rep", tag, manager)
    rep_b, _ = _user(api, admin, "rep", tag, manager)
    region = f"Rebalance-{tag}"
    t = {}
    for key, owner, rule in (("a", rep_a, {"regions": [region]}), ("b", rep_b, {"regions": [f"{region}-b"]})):
        resp = api.call("POST", "team-svc", "/v1/territories", admin, json={
            "name": f"{region} {key}", "owner_id": owner, "rules": [{"name": key, "priority": 800, **rule}]})
        assert resp.status_code == 201, resp.text
        t[key] = resp.json()["id"]

    # The rules put the new account in territory a: its manager owns it in account-svc.
    def create():
        resp = api.call("POST", "account-svc", "/v1/accounts", rep_a_auth, json={
            "name": f"Rebalanced {uuid.uuid4().hex[:8]}", "region": region})
        assert resp.status_code == 201, resp.text
        return resp.json()

    account, _ = wait_for(create, lambda a: a["owner_id"] == rep_a, timeout=15)

    # team-svc's replica gets the account; the proposal (a holds 1, b none: even share) moves nothing
    # yet, so the manager sends an edited list: the account to territory b.
    def proposal():
        resp = api.call("GET", "team-svc", "/v1/territory-plans/rebalance-proposal", manager_auth)
        assert resp.status_code == 200, resp.text
        return {x["territory_id"]: x for x in resp.json()["territories"]}

    wait_for(proposal, lambda loads: loads[t["a"]]["accounts"] == 1, timeout=20)
    done = api.call("POST", "team-svc", "/v1/territory-plans/rebalance", manager_auth, json={
        "moves": [{"account_id": account["id"], "to_territory_id": t["b"]}], "reason": "e2e rebalance"})
    assert done.status_code == 201, done.text
    assert done.json()["moves"][0]["from_territory_id"] == t["a"]

    def owner():
        resp = api.call("GET", "account-svc", f"/v1/accounts/{account['id']}", admin)
        assert resp.status_code == 200, resp.text
        return resp.json()

    moved, _ = wait_for(owner, lambda a: a["owner_id"] == rep_b, timeout=20)
    history = api.call("GET", "account-svc", f"/v1/accounts/{account['id']}/owner-history", admin).json()
    assert history[-1]["rule"] == f"territory:{t['b']}" and history[-1]["changed_by"] == manager
    trail = api.call("GET", "account-svc", f"/v1/accounts/{account['id']}/history", admin).json()["items"]
    assert trail[-1]["event_type"] == "kam.account.reassigned.v1" and trail[-1]["actor_id"] == manager
    # And team-svc counts it in territory b from now on (capacity view).
    wait_for(proposal, lambda loads: (loads[t["a"]]["accounts"], loads[t["b"]]["accounts"]) == (0, 1), timeout=20)
