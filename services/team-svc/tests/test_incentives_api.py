"""Incentive plans over HTTP: tiers / accelerators / cap, expected cost from won revenue and
pipeline before approval, payouts per person and period with a statement, revisions and payment."""
import datetime as dt
import uuid
from decimal import Decimal

from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityCreated, OpportunityState, utcnow
from kam_shared.testing import feed
from team_svc.incentives.models import incentive_plans, payout_revisions, payouts

PERIOD = "FY2029-Q1"
TERMS = {"base_rate_percent": "3", "cap_amount": "20000",
         "tiers": [{"from_percent": 0, "to_percent": 50, "rate_percent": 2},
                   {"from_percent": 50, "to_percent": 100, "rate_percent": 4}],
         "accelerators": [{"from_percent": 100, "to_percent": 150, "multiplier": "1.5"},
                          {"from_percent": 150, "multiplier": 2}]}


def opportunity(owner, amount, status="won", probability=100, close=dt.date(2029, 2, 1)):
    state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal(amount),
                             currency="CNY", close_date=close, owner_id=uuid.UUID(owner["id"]),
                             stage=8 if status == "won" else 5, probability=probability, status=status, version=1,
                             updated_at=utcnow())
    if status == "won":
        return DomainEvent("kam.opportunity.closed.v1", state.id, 1, OpportunityClosed(
            opportunity=state, outcome="won", reason="r", from_stage=7)).to_cloudevent("/kam/opportunity-svc")
    return DomainEvent("kam.opportunity.created.v1", state.id, 1,
                       OpportunityCreated(opportunity=state)).to_cloudevent("/kam/opportunity-svc")


async def team_with_quotas(api):
    manager = await api.user("manager")
    rep1 = await api.user("rep", superior=manager["id"], name="Rep One")
    rep2 = await api.user("rep", superior=manager["id"], name="Rep Two")
    newbie = await api.user("rep", superior=manager["id"], name="New Rep")  # no quota yet
    admin = await api.admin()
    for rep in (rep1, rep2):
        q = (await api.client.post("/v1/quotas", headers=admin, json={
            "owner_kind": "user", "owner_id": rep["id"], "period": PERIOD, "currency": "CNY",
            "amount": "100000"})).json()
        await api.client.post(f"/v1/quotas/{q['id']}/submit", headers=admin)
        assert (await api.client.post(f"/v1/quotas/{q['id']}/approve", headers=await api.auth(manager))
                ).status_code == 200
    return manager, rep1, rep2, newbie


async def draft(api, participants, **over):
    resp = await api.client.post("/v1/incentive-plans", headers=await api.admin(), json={
        "name": f"Reps {uuid.uuid4().hex[:6]}", "currency": "CNY", "fiscal_year": "FY2029",
        "payout_frequency": "quarter", **TERMS, "participant_ids": [p["id"] for p in participants], **over})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_bad_plans_are_refused_naming_the_reason(api, problem):
    rep = await api.user("rep")
    state = await api.snapshot(incentive_plans)
    base = {"name": "Bad", "currency": "CNY", "fiscal_year": "FY2029", "base_rate_percent": "3",
            "participant_ids": [rep["id"]]}
    for body, mentions in [
        ({**base, "tiers": [{"from_percent": 0, "to_percent": 60, "rate_percent": 2},
                            {"from_percent": 50, "to_percent": 100, "rate_percent": 4}]}, "overlaps"),
        ({**base, "tiers": [{"from_percent": 80, "to_percent": 20, "rate_percent": 2}]}, "backwards"),
        ({**base, "accelerators": [{"from_percent": 90, "multiplier": 2}]}, "accelerators"),
        ({**base, "base_rate_percent": "-1"}, "base_rate_percent"),
        ({**base, "cap_amount": "-5"}, "cap_amount"),
        ({**base, "fiscal_year": "FY2029-Q1"}, "fiscal_year"),
        ({**base, "participant_ids": [str(uuid.uuid4())]}, "participant_ids"),
    ]:
        problem(await api.client.post("/v1/incentive-plans", headers=await api.admin(), json=body), 422, mentions)
    problem(await api.client.post("/v1/incentive-plans", headers=await api.auth(rep), json=base), 403, "admin")
    assert await api.snapshot(incentive_plans) == state


async def test_expected_cost_from_won_and_pipeline_comes_before_approval(api, problem):
    manager, rep1, rep2, newbie = await team_with_quotas(api)
    await feed(api.runtime, opportunity(rep1, "80000"), opportunity(rep1, "100000", status="open", probability=50),
               opportunity(rep2, "30000"), opportunity(rep2, "20000", status="open", probability=90),
               opportunity(rep2, "55555", close=dt.date(2029, 4, 2)))  # next quarter
    plan = await draft(api, [rep1, rep2, newbie])
    url = f"/v1/incentive-plans/{plan['id']}"
    problem(await api.client.post(f"{url}/approve", headers=await api.admin()), 409, "expected-cost")
    problem(await api.client.post(f"{url}/expected-cost", headers=await api.admin(), json={"period": "FY2029"}),
            422, "per quarter")
    problem(await api.client.post(f"{url}/expected-cost", headers=await api.auth(rep1), json={"period": PERIOD}),
            403, "every participant")
    before = await api.outbox_count()
    resp = await api.client.post(f"{url}/expected-cost", headers=await api.auth(manager), json={"period": PERIOD})
    assert resp.status_code == 200, resp.text
    cost = resp.json()
    people = {p["user_id"]: p for p in cost["participants"]}
    # rep1: won 80k = 1,000 + 1,200; with the weighted 50k: 130% → + 30k × 3% × 1.5 = 1,350; best case 180%.
    assert (people[rep1["id"]]["committed_cost"], people[rep1["id"]]["expected_cost"],
            people[rep1["id"]]["best_case_cost"]) == ("2200.00", "4350.00", "7050.00")
    assert people[rep1["id"]]["weighted_pipeline"] == "50000.00" and people[rep1["id"]]["open_pipeline"] == "100000.00"
    assert (people[rep2["id"]]["committed_cost"], people[rep2["id"]]["expected_cost"]) == ("600.00", "960.00")
    assert people[newbie["id"]]["note"] == f"no approved quota for {PERIOD}"
    assert people[newbie["id"]]["expected_cost"] is None
    assert (cost["committed_cost"], cost["expected_cost"]) == ("2800.00", "5310.00")
    [(typ, event)] = await api.events_since(before)
    assert typ == "kam.team.incentive_cost_analysed.v1" and event["data"]["expected_cost"] == "5310.00"

    problem(await api.client.post(f"{url}/approve", headers=await api.auth(rep1)), 403, "every participant")
    approved = await api.client.post(f"{url}/approve", headers={**await api.auth(manager),
                                                                "If-Match": f'"{cost["plan_version"]}"'})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["cost_analyses"][0]["expected_cost"] == "5310.00"
    problem(await api.client.patch(url, headers=await api.admin(), json={"base_rate_percent": "9"}), 409, "approved")
    # Participants see the plan that pays them (communication); strangers do not.
    assert (await api.client.get(url, headers=await api.auth(rep2))).status_code == 200
    problem(await api.client.get(url, headers=await api.auth(await api.user("rep"))), 404, "not found")


async def test_payouts_with_statement_approval_payment_and_revisions(api, problem):
    manager, rep1, rep2, newbie = await team_with_quotas(api)
    await feed(api.runtime, opportunity(rep1, "160000"), opportunity(rep2, "10000"))
    plan = await draft(api, [rep1, rep2, newbie])
    url = f"/v1/incentive-plans/{plan['id']}"
    problem(await api.client.post(f"{url}/payouts", headers=await api.admin(), json={"period": PERIOD}), 422, "draft")
    cost = (await api.client.post(f"{url}/expected-cost", headers=await api.admin(), json={"period": PERIOD})).json()
    await api.client.post(f"{url}/approve", headers=await api.admin())
    assert cost["plan_version"] == 2
    before = await api.outbox_count()
    run = (await api.client.post(f"{url}/payouts", headers=await api.auth(manager), json={"period": PERIOD})).json()
    assert run["skipped"] == [{"user_id": newbie["id"], "reason": f"no approved quota for {PERIOD}"}]
    by_user = {p["user_id"]: p for p in run["payouts"]}
    p1 = by_user[rep1["id"]]
    assert (p1["attained_amount"], p1["attainment_percent"], p1["gross_amount"], p1["amount"]) == (
        "160000.00", "160.00", "5850.00", "5850.00")
    assert [(line["source"], line["amount"]) for line in p1["lines"]] == [
        ("tier 1", "1000.00"), ("tier 2", "2000.00"), ("base rate × accelerator 1", "2250.00"),
        ("base rate × accelerator 2", "600.00")]
    assert by_user[rep2["id"]]["amount"] == "200.00"
    assert [t for t, _ in await api.events_since(before)] == ["kam.team.payout_calculated.v1"] * 2

    payout_url = f"/v1/payouts/{p1['id']}"
    problem(await api.client.post(f"{payout_url}/approve", headers=await api.auth(rep1)), 403, "own payout")
    problem(await api.client.get(payout_url, headers=await api.auth(rep2)), 404, "not found")
    problem(await api.client.post(f"{payout_url}/pay", headers=await api.admin()), 409, "approve it")
    approved = await api.client.post(f"{payout_url}/approve", headers=await api.auth(manager))
    assert approved.json()["status"] == "approved"
    problem(await api.client.post(f"{payout_url}/pay", headers=await api.auth(manager)), 403, "admin")
    paid = (await api.client.post(f"{payout_url}/pay", headers=await api.admin())).json()
    assert (paid["status"], paid["paid_amount"]) == ("paid", "5850.00")

    # A late win: recalculating makes revision 2 (calculated again); paying it pays only the difference.
    await feed(api.runtime, opportunity(rep1, "10000"))
    state = await api.snapshot(payouts, payout_revisions)
    again = (await api.client.post(f"{url}/payouts", headers=await api.admin(), json={
        "period": PERIOD, "user_ids": [rep1["id"], rep2["id"]]})).json()
    p1 = next(p for p in again["payouts"] if p["user_id"] == rep1["id"])
    assert (p1["revision"], p1["status"], p1["amount"], p1["paid_amount"]) == (2, "calculated", "6450.00", "5850.00")
    assert next(p for p in again["payouts"] if p["user_id"] == rep2["id"])["revision"] == 1  # unchanged
    assert await api.snapshot(payouts, payout_revisions) != state
    problem(await api.client.post(f"{payout_url}/adjust", headers=await api.auth(rep1),
                                  json={"adjustment": "1000", "reason": "please"}), 403, "above the payee")
    adjusted = (await api.client.post(f"{payout_url}/adjust", headers=await api.auth(manager),
                                      json={"adjustment": "-450", "reason": "deal counted twice"})).json()
    assert (adjusted["revision"], adjusted["amount"]) == (3, "6000.00")
    await api.client.post(f"{payout_url}/approve", headers=await api.auth(manager))
    before = await api.outbox_count()
    final = (await api.client.post(f"{payout_url}/pay", headers=await api.admin())).json()
    assert final["paid_amount"] == "6000.00"
    [(typ, event)] = await api.events_since(before)
    assert typ == "kam.team.payout_paid.v1" and event["data"]["paid_now"] == "150.00"
    history = (await api.client.get(payout_url, headers=await api.auth(rep1))).json()["history"]
    assert [(h["revision"], h["action"]) for h in history] == [
        (1, "calculated"), (1, "approved"), (1, "paid"), (2, "recalculated"), (3, "adjusted"), (3, "approved"),
        (3, "paid")]
    assert history[4]["reason"] == "deal counted twice"
    listed = (await api.client.get("/v1/payouts", headers=await api.auth(manager),
                                   params={"plan_id": plan["id"]})).json()
    assert {p["user_id"] for p in listed["items"]} == {rep1["id"], rep2["id"]}
    mine = (await api.client.get("/v1/payouts", headers=await api.auth(rep2), params={"plan_id": plan["id"]})).json()
    assert [p["user_id"] for p in mine["items"]] == [rep2["id"]]
