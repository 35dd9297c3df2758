"""Quotas over HTTP: fiscal calendar, top-down allocation (even, weights, last year's won revenue,
amounts) with the gap, over-allocation only with approval, draft → submitted → approved by
someone above the owner, revisions with reasons, attainment from opportunity events."""
import datetime as dt
import uuid
from decimal import Decimal

from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityCreated, OpportunityState, utcnow
from kam_shared.testing import feed, service_client
from team_svc.quotas.models import quota_history, quotas


async def sales_org(api):
    """director → manager A (reps a1, a2) and manager B (rep b1)."""
    director = await api.user("manager", name="Director")
    a = await api.user("manager", superior=director["id"], name="A")
    b = await api.user("manager", superior=director["id"], name="B")
    a1 = await api.user("rep", superior=a["id"], name="a1")
    a2 = await api.user("rep", superior=a["id"], name="a2")
    b1 = await api.user("rep", superior=b["id"], name="b1")
    return dict(director=director, a=a, b=b, a1=a1, a2=a2, b1=b1)


async def quota(api, owner, amount, period="FY2026", headers=None, kind="user", currency="CNY"):
    resp = await api.client.post("/v1/quotas", headers=headers or await api.admin(), json={
        "owner_kind": kind, "owner_id": owner["id"], "period": period, "currency": currency, "amount": amount})
    assert resp.status_code == 201, resp.text
    return resp.json()


def won(owner, amount, close_date, currency="CNY", status="won", version=2):
    opp = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal(amount),
                           currency=currency, close_date=close_date, owner_id=uuid.UUID(owner["id"]),
                           stage=8 if status != "open" else 5, probability=100 if status == "won" else 0,
                           status=status, version=version, updated_at=utcnow())
    if status == "open":
        return DomainEvent("kam.opportunity.created.v1", opp.id, version,
                           OpportunityCreated(opportunity=opp)).to_cloudevent("/kam/opportunity-svc")
    return DomainEvent("kam.opportunity.closed.v1", opp.id, version, OpportunityClosed(
        opportunity=opp, outcome=status, reason="r", from_stage=7)).to_cloudevent("/kam/opportunity-svc")


async def test_top_down_allocation_evenly_and_by_weights_shows_children_and_the_gap(api):
    org = await sales_org(api)
    top = await quota(api, org["director"], "1000000.00")
    before = await api.outbox_count()
    split = await api.client.post(f"/v1/quotas/{top['id']}/allocate", headers=await api.admin(),
                                  json={"method": "even"})
    assert split.status_code == 200, split.text
    body = split.json()
    assert {(c["owner_id"], c["amount"]) for c in body["children"]} == {(org["a"]["id"], "500000.00"),
                                                                        (org["b"]["id"], "500000.00")}
    assert body["allocated_amount"] == "1000000.00" and Decimal(body["gap"]) == 0
    events = await api.events_since(before)
    assert [t for t, _ in events] == ["kam.team.quota_allocated.v1"] + ["kam.team.quota_created.v1"] * 2
    allocated = events[0][1]["data"]
    assert allocated["method"] == "even" and allocated["gap"] == "0.00"
    assert allocated["allocated_amount"] == "1000000.00"
    assert all(e["data"]["quota"]["parent_quota_id"] == top["id"] for _, e in events[1:])

    # Manager A splits their own 500k by weights 3:1; thirds would not be exact, the cents still add up.
    a_quota = next(c for c in body["children"] if c["owner_id"] == org["a"]["id"])
    by_weight = await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["a"]), json={
        "method": "weights", "children": [{"owner_kind": "user", "owner_id": org["a1"]["id"], "weight": 2},
                                          {"owner_kind": "user", "owner_id": org["a2"]["id"], "weight": 1}]})
    assert by_weight.status_code == 200, by_weight.text
    amounts = {c["owner_id"]: c["amount"] for c in by_weight.json()["children"]}
    assert amounts == {org["a1"]["id"]: "333333.33", org["a2"]["id"]: "166666.67"}
    # Re-split by amounts that fall short: the gap shows what is not allocated.
    short = await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["a"]), json={
        "method": "amounts", "children": [{"owner_kind": "user", "owner_id": org["a1"]["id"], "amount": "300000"},
                                          {"owner_kind": "user", "owner_id": org["a2"]["id"], "amount": "150000"}]})
    assert short.status_code == 200, short.text
    assert short.json()["allocated_amount"] == "450000.00" and Decimal(short.json()["gap"]) == Decimal("50000.00")
    # A child's draft changed by hand: the parent shows the new gap.
    child = next(c for c in short.json()["children"] if c["owner_id"] == org["a2"]["id"])
    patched = await api.client.patch(f"/v1/quotas/{child['id']}", headers=await api.auth(org["a"]),
                                     json={"amount": "120000"})
    assert patched.status_code == 200 and patched.json()["amount"] == "120000.00"
    parent = (await api.client.get(f"/v1/quotas/{a_quota['id']}", headers=await api.auth(org["a"]))).json()
    assert Decimal(parent["gap"]) == Decimal("80000.00")


async def test_over_allocation_needs_a_reason_from_someone_above_the_parent_owner(api, problem):
    org = await sales_org(api)
    a_quota = await quota(api, org["a"], "100000.00")
    over = {"method": "amounts", "children": [
        {"owner_kind": "user", "owner_id": org["a1"]["id"], "amount": "70000"},
        {"owner_kind": "user", "owner_id": org["a2"]["id"], "amount": "50000"}]}
    state = await api.snapshot(quotas, quota_history)
    body = problem(await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["a"]),
                                         json=over), 422, "20000.00 more than the parent")
    assert body["field"] == "over_allocation_reason" and body["gap"] == "-20000.00"
    # The parent's own owner cannot approve their over-allocation; an uplift counts the same way.
    problem(await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["a"]),
                                  json={**over, "over_allocation_reason": "buffer"}), 403, "above")
    problem(await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["a"]),
                                  json={"method": "even", "uplift_percent": 10}), 422, "over-allocation")
    assert await api.snapshot(quotas, quota_history) == state
    # The director (above A) approves the over-assignment with a reason.
    before = await api.outbox_count()
    ok = await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.auth(org["director"]),
                               json={"method": "even", "uplift_percent": 20, "over_allocation_reason": "20% buffer"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["allocated_amount"] == "120000.00" and Decimal(ok.json()["gap"]) == Decimal("-20000.00")
    allocated = (await api.events_since(before))[0][1]["data"]
    assert allocated["over_allocation_approved_by"] == org["director"]["id"]
    assert allocated["over_allocation_reason"] == "20% buffer"


async def test_allocation_by_last_years_won_revenue(api, problem):
    org = await sales_org(api)
    await feed(api.runtime, won(org["a1"], "300000", dt.date(2025, 5, 1)),
               won(org["a2"], "100000", dt.date(2025, 11, 30)),
               won(org["a2"], "999999", dt.date(2026, 1, 2)),  # this year: not last year's revenue
               won(org["a1"], "50000", dt.date(2025, 6, 1), currency="USD"))  # another currency: not counted
    a_quota = await quota(api, org["a"], "800000.00")
    split = await api.client.post(f"/v1/quotas/{a_quota['id']}/allocate", headers=await api.admin(),
                                  json={"method": "last_year_won"})
    assert split.status_code == 200, split.text
    amounts = {c["owner_id"]: c["amount"] for c in split.json()["children"]}
    assert amounts == {org["a1"]["id"]: "600000.00", org["a2"]["id"]: "200000.00"}
    b_quota = await quota(api, org["b"], "100.00")
    problem(await api.client.post(f"/v1/quotas/{b_quota['id']}/allocate", headers=await api.admin(),
                                  json={"method": "last_year_won"}), 422, "won anything")


async def test_workflow_submit_approve_by_someone_above_and_revisions_with_reasons(api, problem):
    org = await sales_org(api)
    q = await quota(api, org["a1"], "200000.00", headers=await api.auth(org["a"]))
    assert q["status"] == "draft" and q["responsible_user_id"] == org["a1"]["id"]
    url = f"/v1/quotas/{q['id']}"
    state = await api.snapshot(quotas, quota_history)
    problem(await api.client.post(f"{url}/approve", headers=await api.auth(org["a"])), 409, "submitted")
    assert (await api.client.post(f"{url}/submit", headers=await api.auth(org["a1"]))).json()["status"] == "submitted"
    state = await api.snapshot(quotas, quota_history)
    problem(await api.client.post(f"{url}/approve", headers=await api.auth(org["a1"])), 403, "your own quota")
    problem(await api.client.post(f"{url}/approve", headers=await api.auth(org["b"])), 404, "not found")
    problem(await api.client.post(f"{url}/approve", headers=await api.auth(org["a2"])), 404, "not found")
    assert await api.snapshot(quotas, quota_history) == state
    rejected = await api.client.post(f"{url}/reject", headers=await api.auth(org["a"]), json={"reason": "too low"})
    assert rejected.json()["status"] == "draft"
    await api.client.patch(url, headers=await api.auth(org["a"]), json={"amount": "250000"})
    await api.client.post(f"{url}/submit", headers=await api.auth(org["a"]))
    approved = await api.client.post(f"{url}/approve", headers={**await api.auth(org["director"]), "If-Match": '"5"'})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_amount"]) == ("approved", "250000.00")
    # An approved target is not edited: it is revised, with a reason, and needs approval again.
    problem(await api.client.patch(url, headers=await api.auth(org["a"]), json={"amount": "1"}), 409, "approved")
    problem(await api.client.post(f"{url}/revise", headers=await api.auth(org["a"]), json={"amount": "260000"}),
            422, "reason")
    before = await api.outbox_count()
    revised = await api.client.post(f"{url}/revise", headers=await api.auth(org["a"]),
                                    json={"amount": "280000", "reason": "new key account won in the territory"})
    body = revised.json()
    assert (body["status"], body["revision"], body["amount"], body["approved_amount"]) == (
        "draft", 2, "280000.00", "250000.00")
    [(typ, event)] = await api.events_since(before)
    assert typ == "kam.team.quota_revised.v1" and event["data"]["reason"] == "new key account won in the territory"
    assert event["data"]["changes"]["amount"] == {"from": "250000.00", "to": "280000.00"}
    history = (await api.client.get(f"{url}/history", headers=await api.auth(org["a1"]))).json()
    assert [h["action"] for h in history] == ["created", "submitted", "rejected", "updated", "submitted", "approved",
                                              "revised"]
    assert history[2]["reason"] == "too low" and history[-1]["revision"] == 2
    assert history[5]["actor_id"] == org["director"]["id"]


async def test_bad_quota_input_is_refused_and_nothing_is_written(api, problem):
    org = await sales_org(api)
    admin = await api.admin()
    existing = await quota(api, org["b1"], "1000.00", period="FY2026-Q1")
    base = {"owner_kind": "user", "owner_id": org["b1"]["id"], "period": "FY2026-Q2", "currency": "CNY",
            "amount": "1000"}
    state = await api.snapshot(quotas, quota_history)
    for body, status, mentions, headers in [
        ({**base, "amount": "-5"}, 422, "amount", admin),
        ({**base, "period": "2026-Q2"}, 422, "period", admin),
        ({**base, "period": "FY2026-Q5"}, 422, "period", admin),
        ({**base, "currency": "XXX"}, 422, "currency", admin),
        ({**base, "owner_id": str(uuid.uuid4())}, 422, "owner_id", admin),
        ({**base, "period": "FY2026-Q1"}, 409, "already has a quota", admin),
        (base, 403, "above the quota's owner", await api.auth(org["b1"])),
        (base, 403, "above the quota's owner", await api.auth(org["a"])),
    ]:
        problem(await api.client.post("/v1/quotas", headers=headers, json=body), status, mentions)
    for body, status, mentions in [
        ({"method": "weights", "children": [{"owner_kind": "user", "owner_id": org["a1"]["id"]}]}, 422, "below"),
        ({"method": "thirds"}, 422, "method"),
        ({"method": "amounts", "children": [{"owner_kind": "user", "owner_id": org["b1"]["id"],
                                             "amount": "-1"}]}, 422, "amount"),
    ]:
        problem(await api.client.post(f"/v1/quotas/{existing['id']}/allocate", headers=admin, json=body),
                status, mentions)
    b_quota = await quota(api, org["b"], "5000.00", period="FY2026-Q3")
    state = await api.snapshot(quotas, quota_history)
    problem(await api.client.post(f"/v1/quotas/{b_quota['id']}/allocate", headers=admin, json={
        "method": "weights", "children": [{"owner_kind": "user", "owner_id": org["b1"]["id"]}]}), 422, "weight")
    problem(await api.client.post(f"/v1/quotas/{b_quota['id']}/allocate", headers=admin, json={
        "method": "weights", "children": [{"owner_kind": "user", "owner_id": org["b1"]["id"], "weight": 0}]}),
        422, "zero")
    assert await api.snapshot(quotas, quota_history) == state


async def test_attainment_is_closed_won_revenue_per_person_and_rolled_up(api, problem):
    org = await sales_org(api)
    approve_chain = [(org["a1"], "100000.00", org["a"]), (org["a"], "300000.00", org["director"])]
    for owner, amount, approver in approve_chain:
        q = await quota(api, owner, amount, period="FY2027-Q1")
        await api.client.post(f"/v1/quotas/{q['id']}/submit", headers=await api.admin())
        assert (await api.client.post(f"/v1/quotas/{q['id']}/approve", headers=await api.auth(approver))
                ).status_code == 200
    deal = won(org["a1"], "60000", dt.date(2027, 2, 1))
    await feed(api.runtime, deal, deal,  # a redelivery changes nothing (inbox)
               won(org["a1"], "20000", dt.date(2027, 3, 31)), won(org["a2"], "90000", dt.date(2027, 1, 1)),
               won(org["a1"], "77777", dt.date(2027, 4, 1)),  # next quarter
               won(org["a1"], "5000", dt.date(2027, 2, 1), currency="USD"),
               won(org["a1"], "40000", dt.date(2027, 2, 1), status="lost"),
               won(org["a1"], "30000", dt.date(2027, 2, 1), status="open", version=1))
    # A stale event (an older version of the won deal) does not undo the win.
    stale = won(org["a1"], "60000", dt.date(2027, 2, 1), status="open", version=1)
    stale.subject = stale.partitionkey = deal.subject
    stale.data["opportunity"]["id"] = deal.data["opportunity"]["id"]
    await feed(api.runtime, stale)

    a1 = (await api.client.get("/v1/attainment", headers=await api.auth(org["a1"]),
                               params={"user_id": org["a1"]["id"], "period": "FY2027-Q1"})).json()
    assert ((a1["own_won_amount"], a1["rollup_won_amount"], a1["attainment_percent"])
            == ("80000.00", "80000.00", "80.00"))
    assert a1["other_currencies"] == {"USD": "5000.00"}
    a = (await api.client.get("/v1/attainment", headers=await api.auth(org["a"]),
                              params={"user_id": org["a"]["id"], "period": "FY2027-Q1"})).json()
    assert (a["own_won_amount"], a["rollup_won_amount"], a["attainment_percent"]) == ("0.00", "170000.00", "56.67")
    assert {r["user_id"]: r["attainment_percent"] for r in a["direct_reports"]} == {
        org["a1"]["id"]: "80.00", org["a2"]["id"]: None}
    director = (await api.client.get("/v1/attainment", headers=await api.auth(org["director"]),
                                     params={"user_id": org["director"]["id"], "period": "2027-02"})).json()
    assert director["rollup_won_amount"] == "60000.00"  # February only
    # Attainment is as private as the people: a peer sees nothing.
    problem(await api.client.get("/v1/attainment", headers=await api.auth(org["a2"]),
                                 params={"user_id": org["a1"]["id"], "period": "FY2027-Q1"}), 404, "not found")


async def test_org_unit_quotas_roll_up_their_members(api):
    region = await api.unit(f"Region {uuid.uuid4().hex[:6]}", "company")
    team = await api.unit("Team", "team", region["id"])
    boss = await api.user("manager", unit=region["id"])
    admin = await api.admin()
    await api.client.patch(f"/v1/org-units/{team['id']}", headers=admin, json={"manager_id": boss["id"]})
    rep = await api.user("rep", superior=boss["id"], unit=team["id"])
    q = await quota(api, team, "50000.00", period="FY2028", kind="org_unit")
    assert q["responsible_user_id"] == boss["id"]
    split = await api.client.post(f"/v1/quotas/{q['id']}/allocate", headers=admin, json={"method": "even"})
    assert [c["owner_id"] for c in split.json()["children"]] == [rep["id"]]
    await api.client.post(f"/v1/quotas/{q['id']}/submit", headers=admin)
    await api.client.post(f"/v1/quotas/{q['id']}/approve", headers=admin)
    await feed(api.runtime, won(rep, "12500", dt.date(2028, 7, 1)))
    got = (await api.client.get(f"/v1/quotas/{q['id']}/attainment", headers=await api.auth(boss))).json()
    assert (got["won_amount"], got["target"], got["attainment_percent"]) == ("12500.00", "50000.00", "25.00")


async def test_fiscal_calendar_names_periods_and_is_fixed_once_quotas_exist(problem, tmp_path):
    async with service_client("team-svc", kam_bootstrap_admin_email="root@example.com",
                              kam_bootstrap_admin_password="tiger-lamp-orbit-9", kam_jwks_json="",
                              kam_bootstrap_admin_must_change=False,
                              kam_jwt_private_key_file=tmp_path / "k.pem", kam_password_time_cost=1,
                              kam_password_memory_kib=1024, kam_password_parallelism=1) as client:
        token = (await client.post("/v1/auth/token",
                                   data={"username": "root@example.com", "password": "tiger-lamp-orbit-9"})).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await client.get("/v1/fiscal-calendar", headers=admin)).json() == {
            "fiscal_year_start_month": 1, "version": 1}
        changed = await client.put("/v1/fiscal-calendar", headers=admin, json={"fiscal_year_start_month": 4})
        assert changed.status_code == 200 and changed.json() == {"fiscal_year_start_month": 4, "version": 2}
        from kam_shared.testing import outbox_rows
        rows = [r for r in await outbox_rows(client.runtime)
                if r["event_type"] == "kam.team.fiscal_calendar_changed.v1"]
        assert len(rows) == 1 and '"fiscal_year_start_month":4' in rows[0]["payload"].replace(" ", "")
        q1 = (await client.get("/v1/fiscal-calendar/periods/FY2026-Q1", headers=admin)).json()
        assert (q1["start"], q1["end"]) == ("2026-04-01", "2026-07-01")
        fy = (await client.get("/v1/fiscal-calendar/periods/2027-02", headers=admin)).json()
        assert fy["fiscal_year"] == "FY2026"
        me = (await client.get("/v1/users", headers=admin)).json()["items"][0]
        resp = await client.post("/v1/quotas", headers=admin, json={
            "owner_kind": "user", "owner_id": me["id"], "period": "FY2026-Q4", "currency": "CNY", "amount": "10"})
        assert (resp.json()["period_start"], resp.json()["period_end"]) == ("2027-01-01", "2027-04-01")
        problem(await client.put("/v1/fiscal-calendar", headers=admin, json={"fiscal_year_start_month": 7}),
                409, "quotas were set")
        problem(await client.put("/v1/fiscal-calendar", headers=admin, json={"fiscal_year_start_month": 13}),
                422, "fiscal_year_start_month")
