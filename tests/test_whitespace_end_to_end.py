"""Whitespace across services: an admin adds catalogue products (opportunity-svc), a rep wins an
opportunity with a product line on a subsidiary, and the group's whitespace (account-svc) shows `won`
for that unit and family once the events arrive; other units show the gap and what comparable
accounts buy."""
import uuid

from kam_shared.testing import wait_for

from .test_end_to_end import fresh_team


def test_a_won_line_on_a_subsidiary_shows_won_on_the_groups_whitespace(stack, org):
    api, shared_auth, _ = org
    admin = shared_auth["admin"]
    auth, ids = fresh_team(api, admin)
    tag = uuid.uuid4().hex[:8]
    family, other_family, industry = f"core-{tag}", f"cards-{tag}", f"banking-{tag}"
    code = f"CORE-{tag}"
    for c, f in ((code, family), (f"CARD-{tag}", other_family)):
        made = api.call("POST", "opportunity-svc", "/v1/products", admin, json={"code": c, "name": c, "family": f})
        assert made.status_code == 201, made.text
    # a rep may not change the catalogue
    assert api.call("POST", "opportunity-svc", "/v1/products", auth["rep"],
                    json={"code": f"X-{tag}", "name": "x", "family": "x"}).status_code == 403

    def account(**body):
        resp = api.call("POST", "account-svc", "/v1/accounts", auth["rep"],
                        json={"name": f"Acct {uuid.uuid4().hex[:8]}", "industry": industry, "tier": "key", **body})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    group = account()
    subsidiary = account(parent_id=group)
    branch = account(parent_id=subsidiary)
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": subsidiary, "name": "Core system", "amount": "1.00", "currency": "CNY",
        "close_date": "2026-11-30", "owner_id": ids["rep"]})
    assert opp.status_code == 201, opp.text
    opp_id = opp.json()["id"]
    bad = api.call("PATCH", "opportunity-svc", f"/v1/opportunities/{opp_id}", auth["rep"],
                   json={"lines": [{"product_code": f"NOPE-{tag}", "quantity": 1}]})
    assert bad.status_code == 422 and "lines.0" in bad.json()["detail"]
    lined = api.call("PATCH", "opportunity-svc", f"/v1/opportunities/{opp_id}", auth["rep"], json={
        "amount_from_lines": True, "lines": [{"product_code": code, "quantity": 2, "quoted_price": "60000.00"}]})
    assert lined.status_code == 200, lined.text
    assert lined.json()["lines"][0]["family"] == family and lined.json()["amount"] == "120000.00"
    won = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp_id}/close", auth["rep"],
                   json={"outcome": "won", "reason": "best_value"})
    assert won.status_code == 200, won.text

    def cells(body):
        return {(u["id"], c["family"]): c for u in body.get("units", []) for c in u["cells"]}

    body, _ = wait_for(lambda: api.call("GET", "account-svc", f"/v1/accounts/{group}/whitespace",
                                        auth["manager"]).json(),
                       lambda b: cells(b).get((subsidiary, family), {}).get("status") == "won", timeout=90)
    grid = cells(body)
    assert [u["id"] for u in body["units"]] == [group, subsidiary, branch]
    assert grid[(subsidiary, other_family)]["status"] == "none"
    gap = grid[(branch, family)]
    assert gap["status"] == "none"
    assert (gap["comparable"]["accounts"], gap["comparable"]["buyers"]) == (3, 1)
    assert gap["comparable"]["estimates"] == [{"currency": "CNY", "amount": "120000.00", "won_opportunities": 1}]
    # someone outside the rep's line: 404, as a direct read would be
    hidden = api.call("GET", "account-svc", f"/v1/accounts/{group}/whitespace", shared_auth["peer"])
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("application/problem+json")
