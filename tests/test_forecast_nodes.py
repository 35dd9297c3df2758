"""forecast-svc's other nodes and currencies on the real stack: an org unit made in team-svc and a
territory with its rule roll up the opportunities made in opportunity-svc (accounts from account-svc),
a foreign-currency (EUR) opportunity is converted at the rate an admin set, and a rebuild from the owners' snapshots
gives the same answers."""
import uuid

from kam_shared.testing import wait_for


def _team_with_unit(api, admin):
    """A company, a team under it managed by a new manager, and a rep of that team."""
    tag = uuid.uuid4().hex[:6]
    company = api.call("POST", "team-svc", "/v1/org-units", admin, json={"name": f"Co {tag}", "kind": "company"})
    assert company.status_code == 201, company.text
    auth, ids = {}, {"company": company.json()["id"]}
    email = f"unit.manager.{tag}@e2e.test"
    resp = api.call("POST", "team-svc", "/v1/users", admin, json={
        "email": email, "name": f"Unit manager {tag}", "role": "manager", "password": "lamp-tiger-7"})
    assert resp.status_code == 201, resp.text
    ids["manager"], auth["manager"] = resp.json()["id"], api.token(email, "lamp-tiger-7")
    team = api.call("POST", "team-svc", "/v1/org-units", admin, json={
        "name": f"Team {tag}", "kind": "team", "parent_id": ids["company"], "manager_id": ids["manager"]})
    assert team.status_code == 201, team.text
    ids["team"] = team.json()["id"]
    email = f"unit.rep.{tag}@e2e.test"
    resp = api.call("POST", "team-svc", "/v1/users", admin, json={
        "email": email, "name": f"Unit rep {tag}", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": ids["manager"], "org_unit_id": ids["team"]})
    assert resp.status_code == 201, resp.text
    ids["rep"], auth["rep"] = resp.json()["id"], api.token(email, "lamp-tiger-7")
    return auth, ids, tag


def _opportunity(api, auth, owner, account_id, amount, currency="CNY", close="2026-11-20"):
    resp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth, json={
        "account_id": account_id, "name": f"Deal {uuid.uuid4().hex[:6]}", "amount": amount, "currency": currency,
        "close_date": close, "owner_id": owner})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_org_unit_and_territory_rollups_and_a_rebuild_gives_the_same(stack, org):
    api, shared, _ = org
    admin = shared["admin"]
    auth, ids, tag = _team_with_unit(api, admin)
    region = f"Nodes-{tag}"
    territory = api.call("POST", "team-svc", "/v1/territories", admin, json={
        "name": f"{region} all", "owner_id": ids["rep"], "org_unit_id": ids["team"],
        "rules": [{"name": "region", "priority": 1, "regions": [region]}]})
    assert territory.status_code == 201, territory.text
    territory_id = territory.json()["id"]

    def create_account():
        resp = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={
            "name": f"Nodes {uuid.uuid4().hex[:8]}", "region": region})
        assert resp.status_code == 201, resp.text
        return resp.json()

    covered, _ = wait_for(create_account, lambda a: a["owner_id"] == ids["rep"], timeout=30)
    elsewhere = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": f"Other {tag}"}).json()
    _opportunity(api, auth["rep"], ids["rep"], covered["id"], "1000.00")
    _opportunity(api, auth["rep"], ids["rep"], elsewhere["id"], "200.00")

    unit, _ = wait_for(lambda: api.rollup(auth["manager"], ids["team"]),
                       lambda r: r.get("open_amount") == "1200.00", timeout=60)
    assert unit["node_kind"] == "org_unit" and unit["open_count"] == 2
    company, _ = wait_for(lambda: api.rollup(admin, ids["company"]),
                          lambda r: r.get("open_amount") == "1200.00", timeout=60)
    assert company["node_kind"] == "org_unit"
    covering, _ = wait_for(lambda: api.rollup(auth["manager"], territory_id),
                           lambda r: r.get("open_amount") == "1000.00", timeout=60)
    assert covering["node_kind"] == "territory" and covering["open_count"] == 1
    # The rep sees neither the team nor the company; another manager's rep neither; unknown: 404.
    assert api.rollup(auth["rep"], ids["team"]) == {"status": 404}
    assert api.rollup(shared["manager"], ids["team"]) == {"status": 404}
    assert api.rollup(shared["manager"], territory_id) == {"status": 404}
    assert api.rollup(admin, str(uuid.uuid4())) == {"status": 404}

    # A rebuild from team-svc's, account-svc's and opportunity-svc's snapshots gives the same answers.
    resp = api.call("POST", "forecast-svc", "/v1/admin/rebuild", admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["org_units"] >= 2 and resp.json()["territories"] >= 1
    for node, view in ((ids["team"], unit), (ids["company"], company), (territory_id, covering)):
        again = api.rollup(admin, node)
        assert {k: again[k] for k in ("open_count", "open_amount", "weighted_amount", "stages", "node_kind")} == \
            {k: view[k] for k in ("open_count", "open_amount", "weighted_amount", "stages", "node_kind")}


def test_a_foreign_currency_opportunity_is_converted_at_the_rate_an_admin_set(stack, org):
    # EUR, not USD: the demo seed (tests/test_demo_seed.py, same stack) sets monthly USD→CNY rates, and a
    # rate stays in force after its date; no other test sets EUR.
    api, shared, _ = org
    admin = shared["admin"]
    auth, ids, tag = _team_with_unit(api, admin)
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": f"FX {tag}"}).json()
    _opportunity(api, auth["rep"], ids["rep"], account["id"], "1000.00", currency="EUR", close="2029-03-15")
    _opportunity(api, auth["rep"], ids["rep"], account["id"], "500.00", close="2029-03-20")
    before, _ = wait_for(lambda: api.rollup(auth["manager"], ids["team"], "2029-Q1"),
                         lambda r: r.get("open_count") == 1 and r.get("other_currencies") == ["EUR"], timeout=60)
    assert before["open_amount"] == "500.00" and before["rates_used"] == []

    bad = api.call("PUT", "forecast-svc", "/v1/exchange-rates", admin, json=[
        {"from": "EUR", "to": "CNY", "rate": "0", "effective_date": "2029-03-01"}])
    assert bad.status_code == 422 and "rate" in bad.text
    resp = api.call("PUT", "forecast-svc", "/v1/exchange-rates", admin, json=[
        {"from": "EUR", "to": "CNY", "rate": "7.125", "effective_date": "2029-03-01"}])
    assert resp.status_code == 200, resp.text
    assert api.call("PUT", "forecast-svc", "/v1/exchange-rates", auth["manager"], json=[
        {"from": "EUR", "to": "CNY", "rate": "9", "effective_date": "2029-03-01"}]).status_code == 403

    # No rebuild, no event to wait for: the next read converts.
    for who, node in ((auth["manager"], ids["team"]), (auth["manager"], ids["manager"]), (auth["rep"], ids["rep"])):
        view = api.rollup(who, node, "2029-Q1")
        assert view["open_amount"] == "7625.00" and view["open_count"] == 2 and view["other_currencies"] == []
        assert [(u["from"], u["to"], u["rate"], u["effective_date"]) for u in view["rates_used"]] == [
            ("EUR", "CNY", "7.125", "2029-03-01")]
    listed = api.call("GET", "forecast-svc", "/v1/exchange-rates", auth["rep"]).json()
    assert {"from": "EUR", "to": "CNY", "rate": "7.125", "effective_date": "2029-03-01"}.items() <= \
        next(r for r in listed["rates"] if r["effective_date"] == "2029-03-01" and r["from"] == "EUR").items()
