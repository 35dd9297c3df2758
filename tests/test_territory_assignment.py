"""Territory rules set in team-svc pick the owner of accounts created in account-svc, through the
real event stream (kam.team.territory_created.v1 → account-svc's replica)."""
import uuid

from kam_shared.testing import wait_for


def test_a_territory_created_in_team_svc_assigns_new_accounts_in_account_svc(stack, org):
    api, auth, ids = org
    region = f"E2E-{uuid.uuid4().hex[:6]}"
    territory = api.call("POST", "team-svc", "/v1/territories", auth["admin"], json={
        "name": f"{region} banks", "owner_id": ids["peer"],
        "rules": [{"name": "banks", "priority": 1, "regions": [region], "industries": ["banking"]}]})
    assert territory.status_code == 201, territory.text

    def create():
        resp = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={
            "name": f"Bank {uuid.uuid4().hex[:8]}", "region": region, "industry": "banking"})
        assert resp.status_code == 201, resp.text
        return resp.json()

    account, _ = wait_for(create, lambda a: a["owner_id"] == ids["peer"], timeout=10)
    # The rep created it for the territory's account manager: the peer and their manager see it.
    assert api.call("GET", "account-svc", f"/v1/accounts/{account['id']}", auth["peer"]).status_code == 200
    assert api.call("GET", "account-svc", f"/v1/accounts/{account['id']}", auth["manager"]).status_code == 200
