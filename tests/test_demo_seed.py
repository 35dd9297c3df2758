"""`make run` seeds a demo organisation on first start: it must go through against the real
services, and what it seeds must show in the views a sales director opens first, a year of
history included (closed periods, won and lost, two currencies, predictions and their backtest)."""
import datetime as dt

from kam_shared.demo import DEMO_PASSWORD, seed_demo
from kam_shared.testing import wait_for


def test_the_demo_seed_fills_roll_ups_forecasts_and_attainment(stack, org):
    api, _, _ = org
    today = dt.date.today()
    seeded = seed_demo(stack, today)
    director = api.token("director@demo.kam", DEMO_PASSWORD)
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    view, _ = wait_for(lambda: api.rollup(director, seeded["director"], quarter, confirmed_only="true"),
                       lambda r: r.get("open_count", 0) > 0, timeout=15)
    assert any(c["count"] for c in view["categories"])
    rep = seeded["reps"]["North"][0]
    attainment, _ = wait_for(lambda: api.call("GET", "forecast-svc", "/v1/attainment", director,
                                              params={"node": rep, "period": f"FY{quarter}"}).json(),
                             lambda a: a.get("quota") == "3000000.00", timeout=15)
    assert attainment["quota_status"] == "approved"
    # A new account in a seeded region goes to that region's territory owner.
    account = api.call("POST", "account-svc", "/v1/accounts", director,
                       json={"name": "Demo Seed Test Co", "region": "South"})
    assert account.status_code == 201 and account.json()["owner_id"] == seeded["reps"]["South"][0]
    # The North territory's plan for the quarter, approved, with its history.
    plan = api.call("GET", "team-svc", f"/v1/territory-plans/{seeded['territory_plan']}", director).json()
    assert (plan["status"], plan["period"], len(plan["objectives"])) == ("approved", f"FY{quarter}", 2)
    history = api.call("GET", "team-svc", f"/v1/territory-plans/{plan['id']}/history", director).json()
    assert [e["version"] for e in history["items"]] == [1, 2, 3]
    # Issue 12: an at-risk account in the director's at-risk list, and an account team whose North member
    # (another manager's rep) sees the South account.
    at_risk = api.call("GET", "account-svc", "/v1/accounts", director, params={"health": "at_risk", "limit": 500})
    assert seeded["at_risk_account"] in [a["id"] for a in at_risk.json()["items"]]
    health = api.call("GET", "account-svc", f"/v1/accounts/{seeded['at_risk_account']}/health", director).json()
    assert health["band"] == "at_risk" and health["parts"]
    member = api.token("wang.fang@demo.kam", DEMO_PASSWORD)
    team = api.call("GET", "account-svc", f"/v1/accounts/{seeded['team_account']}/team", member)
    assert team.status_code == 200 and [m["role"] for m in team.json()["members"]][1:] == ["technical", "presales"]
    # The group's whitespace: the leasing subsidiary bought core banking; the rest of the group has gaps
    # that a comparable bank (banking, key tier) fills, with an opportunity-sized estimate.
    group = seeded["group"]

    def gaps(body):
        return [c for u in body.get("units", []) for c in u["cells"]
                if c["status"] == "none" and (c["comparable"] or {}).get("buyers")]

    body, _ = wait_for(lambda: api.call("GET", "account-svc", f"/v1/accounts/{group}/whitespace", director).json(),
                       lambda b: len(b.get("units", [])) == 3 and gaps(b) and any(
                           c["status"] == "won" for u in b["units"] for c in u["cells"]), timeout=30)
    assert {"software", "hardware", "services"} <= set(body["families"])
    assert all(g["comparable"]["estimates"] for g in gaps(body))
    _the_year_of_history_shows(api, director, seeded, today, quarter)


def _the_year_of_history_shows(api, director, seeded, today, quarter):
    """Imported with its dated history: closed periods with won and lost, two currencies, a prediction
    from the organisation's own history and a backtest with something to compare."""
    history = seeded["history"]
    assert history["won"] > 20 and history["lost"] > 20 and history["open"] > 0 and history["USD"] > 0
    node = seeded["director"]
    previous = f"{today.year - (today.month <= 3)}-Q{(today.month - 1) // 3 or 4}"
    past, _ = wait_for(lambda: api.rollup(director, node, previous),
                       lambda r: r.get("won_count", 0) > 0 and r.get("lost_count", 0) > 0, timeout=30)
    year, _ = wait_for(lambda: api.rollup(director, node, str(today.year)),
                       lambda r: any(u["from"] == "USD" for u in r.get("rates_used", [])), timeout=30)
    assert "USD" not in year["other_currencies"]  # converted at the seeded monthly rates, not listed beside

    def prediction():
        resp = api.call("GET", "forecast-svc", "/v1/predictions", director, params={"node": node, "period": quarter})
        return resp.json() if resp.status_code == 200 else {}

    predicted, _ = wait_for(prediction, lambda p: any(s["conversion_source"] == "node" and s["sample_size"] >= 20
                                                      for s in p.get("stages", [])), timeout=30)
    assert float(predicted["expected_amount"]) > 0
    assert float(predicted["low_amount"]) <= float(predicted["expected_amount"]) <= float(predicted["high_amount"])
    accuracy = api.call("GET", "forecast-svc", "/v1/predictions/accuracy", director,
                        params={"node": node, "count": 4}).json()
    assert len(accuracy["periods"]) == 4
    assert any(float(p["actual_won"]) > 0 and float(p["predicted_at_start"]) > 0 for p in accuracy["periods"])
    assert accuracy["mape_at_start_pct"] is not None
