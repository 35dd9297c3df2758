"""Account health, the health model and account teams over HTTP (in-process app, real migrated
database, the opportunity replica fed through the real consumer path)."""
import datetime as dt
import json
import uuid
from decimal import Decimal

from sqlalchemy import func, select

from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityStageChanged, OpportunityState
from kam_shared.testing import bearer, feed, outbox_rows

DEFAULTS = {"interactions": 25, "complaints": 15, "revenue_trend": 20, "lost_deals": 10, "buying_centre": 15,
            "relationship_stage": 5, "plan_actions": 10}


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"] + str(resp.json().get("field", "")), resp.json()


async def events_since(client, before):
    rows = (await outbox_rows(client.runtime))[before:]
    return [(r["event_type"], r["message_key"], json.loads(r["payload"])["data"]) for r in rows]


async def new_account(client, who, role="rep", **body):
    resp = await client.post("/v1/accounts", headers=bearer(who, role),
                             json={"name": f"Health {uuid.uuid4().hex[:10]}", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def stored_score(client, who, account_id):
    body = (await client.get(f"/v1/accounts/{account_id}", headers=bearer(who))).json()
    return body["health_score"], body["health_band"]


def lost_event(opp_id, account_id, competitor, *, version=2, close_date=None):
    close_date = close_date or dt.datetime.now(dt.timezone.utc).date()
    state = OpportunityState(id=opp_id, account_id=account_id, name="deal", amount=Decimal("50000.00"),
                             currency="CNY", close_date=close_date, owner_id=uuid.uuid4(), stage=7, probability=0,
                             status="lost", version=version, updated_at=dt.datetime.now(dt.timezone.utc),
                             close_reason="price", lost_to_competitor=competitor)
    data = OpportunityClosed(opportunity=state, outcome="lost", reason="price", competitor=competitor, from_stage=5)
    return DomainEvent("kam.opportunity.closed.v1", opp_id, version, data).to_cloudevent("/kam/opportunity-svc")


# --- health -------------------------------------------------------------------------------------------

async def test_health_has_seven_explained_parts_and_is_stored_on_create(accounts, people):
    acc = await new_account(accounts, people.rep)
    score, band = await stored_score(accounts, people.rep, acc["id"])
    assert score is not None and band == "watch"  # scored in the create's own transaction
    resp = await accounts.get(f"/v1/accounts/{acc['id']}/health", headers=bearer(people.rep))
    assert resp.status_code == 200, resp.text
    health = resp.json()
    assert health["score"] == score and health["band"] == band
    assert [p["key"] for p in health["parts"]] == list(DEFAULTS)
    by = {p["key"]: p for p in health["parts"]}
    assert by["interactions"]["score"] == 0 and "no interaction recorded" in by["interactions"]["summary"]
    assert by["buying_centre"]["facts"]["contacts"] == 0 and by["complaints"]["score"] == 100
    assert sum(p["weight"] for p in health["parts"]) == 100
    assert_problem(await accounts.get(f"/v1/accounts/{acc['id']}/health", headers=bearer(people.other_rep)),
                   404, "not found")


async def test_an_input_write_rescores_in_its_transaction_and_a_band_change_is_published(accounts, people):
    acc = await new_account(accounts, people.rep)
    a = acc["id"]
    before_score, _ = await stored_score(accounts, people.rep, a)
    before = len(await outbox_rows(accounts.runtime))
    raised = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)).isoformat()
    resp = await accounts.post(f"/v1/accounts/{a}/complaints", headers=bearer(people.rep), json={
        "subject": "Outage for a week", "severity": "critical", "raised_at": raised})
    assert resp.status_code == 201, resp.text
    score, band = await stored_score(accounts, people.rep, a)
    assert score < before_score and band == "at_risk"
    events = await events_since(accounts, before)
    assert [t for t, _, _ in events] == ["kam.account.complaint_raised.v1", "kam.account.health_changed.v1"]
    _, key, data = events[1]
    assert key == a and data["from_band"] == "watch" and data["band"] == "at_risk" and data["score"] == score
    assert data["cause"] == "kam.account.complaint_raised.v1"
    health = (await accounts.get(f"/v1/accounts/{a}/health", headers=bearer(people.rep))).json()
    complaint = {p["key"]: p for p in health["parts"]}["complaints"]
    assert complaint["facts"]["complaints"][0]["age_days"] == 100 and "critical" in complaint["summary"]

    # Lost opportunities arrive through the replica: rescored in the consumer's transaction, named to whom.
    await feed(accounts.runtime, lost_event(uuid.uuid4(), uuid.UUID(a), "Huawei"))
    health = (await accounts.get(f"/v1/accounts/{a}/health", headers=bearer(people.rep))).json()
    lost = {p["key"]: p for p in health["parts"]}["lost_deals"]
    assert lost["facts"]["by_competitor"] == {"Huawei": 1} and "1 to Huawei" in lost["summary"]
    assert health["cause"] == "kam.opportunity.closed.v1"


async def test_an_open_opportunity_moving_stage_leaves_the_health_as_scored_and_closing_it_rescores(accounts, people):
    """Health is scored from closed opportunities only, so the consumer skips scoring for a stage move
    of an open one: what is stored must still be what a fresh scoring gives, and closing it lost
    rescores in the consumer's transaction."""
    acc = await new_account(accounts, people.rep)
    a, opp = uuid.UUID(acc["id"]), uuid.uuid4()
    stored_before = (await accounts.get(f"/v1/accounts/{a}/health", headers=bearer(people.rep))).json()

    def state(version, stage, status="open"):
        return OpportunityState(id=opp, account_id=a, name="deal", amount=Decimal("80000.00"), currency="CNY",
                                close_date=dt.datetime.now(dt.timezone.utc).date(), owner_id=uuid.uuid4(),
                                stage=stage, probability=10 * stage, status=status, version=version,
                                updated_at=dt.datetime.now(dt.timezone.utc))

    for version, stage in ((1, 1), (2, 3), (3, 4)):
        data = OpportunityStageChanged(opportunity=state(version, stage), from_stage=max(stage - 1, 1), to_stage=stage)
        await feed(accounts.runtime, DomainEvent("kam.opportunity.stage_changed.v1", opp, version, data)
                   .to_cloudevent("/kam/opportunity-svc"))
    health = (await accounts.get(f"/v1/accounts/{a}/health", headers=bearer(people.rep))).json()
    assert health["cause"] == stored_before["cause"] and health["computed_at"] == stored_before["computed_at"]
    assert health["score"] == stored_before["score"]  # the read scores afresh: nothing had moved

    closed = OpportunityClosed(opportunity=state(4, 4, "lost").model_copy(update={"lost_to_competitor": "Huawei"}),
                               outcome="lost", reason="price", competitor="Huawei", from_stage=4)
    await feed(accounts.runtime, DomainEvent("kam.opportunity.closed.v1", opp, 4, closed).to_cloudevent(
        "/kam/opportunity-svc"))
    health = (await accounts.get(f"/v1/accounts/{a}/health", headers=bearer(people.rep))).json()
    assert health["cause"] == "kam.opportunity.closed.v1"
    assert {p["key"]: p for p in health["parts"]}["lost_deals"]["facts"]["by_competitor"] == {"Huawei": 1}


async def test_at_risk_list_is_the_callers_scope_worst_first_and_pages(accounts, people):
    made = []
    for days in (100, 10):  # the older complaint scores worse
        acc = await new_account(accounts, people.peer)
        raised = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
        for severity in ("critical", "high"):
            resp = await accounts.post(f"/v1/accounts/{acc['id']}/complaints", headers=bearer(people.peer),
                                       json={"subject": "bad", "severity": severity, "raised_at": raised})
            assert resp.status_code == 201
        made.append(acc["id"])
    listed, cursor = [], None
    while True:
        url = "/v1/accounts?health=at_risk&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = (await accounts.get(url, headers=bearer(people.peer))).json()
        listed += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [a["id"] for a in listed]
    assert set(made) <= set(ids) and ids.index(made[0]) < ids.index(made[1])
    assert all(a["health_band"] == "at_risk" for a in listed)
    scores = [a["health_score"] for a in listed]
    assert scores == sorted(scores)
    theirs = (await accounts.get("/v1/accounts?health=at_risk&limit=500", headers=bearer(people.other_rep))).json()
    assert not set(made) & {a["id"] for a in theirs["items"]}
    assert (await accounts.get("/v1/accounts?health=dire", headers=bearer(people.peer))).status_code == 422


async def test_health_model_is_admin_only_checked_and_if_match_guarded(accounts, people):
    admin = bearer(people.admin, "admin")
    current = await accounts.get("/v1/health-model", headers=bearer(people.rep))
    assert current.status_code == 200 and current.json()["weights"] == DEFAULTS
    etag = current.headers["etag"]
    version = current.json()["version"]

    async def count_rows():
        from account_svc.models import metadata
        async with accounts.runtime.db.session() as session:
            return (len(await outbox_rows(accounts.runtime)),
                    await session.scalar(select(metadata.tables["health_model"].c.version)))

    untouched = await count_rows()
    assert_problem(await accounts.put("/v1/health-model", headers=bearer(people.manager, "manager"),
                                      json={"weights": DEFAULTS}), 403, "admin")
    assert_problem(await accounts.put("/v1/health-model", headers=admin,
                                      json={"weights": {**DEFAULTS, "complaints": 5}}), 422, "sum to 100")
    negative = {**DEFAULTS, "complaints": -5, "interactions": 45}
    assert_problem(await accounts.put("/v1/health-model", headers=admin, json={"weights": negative}), 422,
                   "weights.complaints")
    assert_problem(await accounts.put("/v1/health-model", headers=admin,
                                      json={"weights": {**DEFAULTS, "mood": 0}}), 422, "weights.mood")
    assert_problem(await accounts.put("/v1/health-model", headers={**admin, "If-Match": f'"{version + 7}"'},
                                      json={"weights": DEFAULTS}), 412, "version")
    assert await count_rows() == untouched

    acc = await new_account(accounts, people.rep)
    before = len(await outbox_rows(accounts.runtime))
    only_complaints = {k: 0 for k in DEFAULTS} | {"complaints": 100}
    resp = await accounts.put("/v1/health-model", headers={**admin, "If-Match": etag},
                              json={"weights": only_complaints})
    try:
        assert resp.status_code == 200, resp.text
        assert resp.json()["version"] == version + 1 and resp.headers["etag"] == f'"{version + 1}"'
        types = [t for t, _, _ in await events_since(accounts, before)]
        assert types[0] == "kam.account.health_model_changed.v1"
        # Stored scores were re-weighted at once: no complaints → 100, healthy.
        assert await stored_score(accounts, people.rep, acc["id"]) == (100, "healthy")
        assert "kam.account.health_changed.v1" in types
    finally:
        restore = await accounts.put("/v1/health-model", headers=admin, json={"weights": DEFAULTS})
        assert restore.status_code == 200


# --- account teams ------------------------------------------------------------------------------------

async def test_an_account_team_member_from_another_team_sees_the_account_until_removed(accounts, people,
                                                                                      snapshot_counts):
    acc = await new_account(accounts, people.rep)
    a, url = acc["id"], f"/v1/accounts/{acc['id']}"
    outsider = people.other_rep  # in another part of the hierarchy
    assert_problem(await accounts.get(url, headers=bearer(outsider)), 404, "not found")
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.put(f"{url}/team/{outsider}", headers={**bearer(people.rep), "If-Match": '"1"'},
                              json={"role": "technical"})
    assert resp.status_code == 200, resp.text
    team = resp.json()
    assert team["version"] == 2 and resp.headers["etag"] == '"2"'
    assert [(m["user_id"], m["role"], m["owner"]) for m in team["members"]] == [
        (str(people.rep), "account_manager", True), (str(outsider), "technical", False)]
    (event_type, key, data), = [e for e in await events_since(accounts, before)
                                if e[0] != "kam.account.health_changed.v1"]
    assert event_type == "kam.account.team_changed.v1" and key == a and data["account"]["version"] == 2
    assert data["added"] == [str(outsider)] and data["members"][0]["role"] == "technical"
    assert data["account"]["owner_id"] == str(people.rep)  # still the single owner

    assert (await accounts.get(url, headers=bearer(outsider))).status_code == 200
    assert (await accounts.get(f"{url}/health", headers=bearer(outsider))).status_code == 200
    assert (await accounts.get(f"{url}/team", headers=bearer(outsider))).status_code == 200
    listed = (await accounts.get("/v1/accounts?limit=1000", headers=bearer(outsider))).json()["items"]
    assert a in [x["id"] for x in listed]
    logged = await accounts.post(f"{url}/interactions", headers=bearer(outsider), json={
        "kind": "visit", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(), "subject": "site survey"})
    assert logged.status_code == 201, logged.text
    assert_problem(await accounts.patch(url, headers=bearer(outsider), json={"region": "East"}), 403, "team")
    assert_problem(await accounts.put(f"{url}/team/{people.peer}", headers=bearer(outsider),
                                      json={"role": "sales"}), 403, "team")

    resp = await accounts.put(f"{url}/team/{outsider}", headers=bearer(people.manager, "manager"),
                              json={"role": "service"})
    assert resp.status_code == 200 and resp.json()["version"] == 3
    resp = await accounts.delete(f"{url}/team/{outsider}", headers={**bearer(people.rep), "If-Match": '"3"'})
    assert resp.status_code == 200 and [m["user_id"] for m in resp.json()["members"]] == [str(people.rep)]
    assert_problem(await accounts.get(url, headers=bearer(outsider)), 404, "not found")
    listed = (await accounts.get("/v1/accounts?limit=1000", headers=bearer(outsider))).json()["items"]
    assert a not in [x["id"] for x in listed]


async def test_bad_team_members_are_refused_and_nothing_is_written(accounts, people, snapshot_counts):
    acc = await new_account(accounts, people.rep)
    url = f"/v1/accounts/{acc['id']}/team"

    async def team_rows():
        from account_svc.models import metadata
        async with accounts.runtime.db.session() as session:
            return await session.scalar(select(func.count()).select_from(metadata.tables["account_team"]))

    before, rows = await snapshot_counts(), await team_rows()
    stranger = uuid.uuid4()  # team-svc answers 404 for them
    assert_problem(await accounts.put(f"{url}/{stranger}", headers=bearer(people.rep), json={"role": "sales"}),
                   422, "user_id")
    assert_problem(await accounts.put(f"{url}/{people.left}", headers=bearer(people.rep), json={"role": "sales"}),
                   422, "inactive")
    assert_problem(await accounts.put(f"{url}/{people.rep}", headers=bearer(people.rep), json={"role": "sales"}),
                   422, "account manager")
    assert_problem(await accounts.put(f"{url}/{people.peer}", headers=bearer(people.rep), json={"role": "cook"}),
                   422, "role")
    assert_problem(await accounts.put(f"{url}/{people.peer}", headers={**bearer(people.rep), "If-Match": '"9"'},
                                      json={"role": "sales"}), 412, "version")
    assert_problem(await accounts.put(f"{url}/{people.peer}", headers=bearer(people.other_rep),
                                      json={"role": "sales"}), 404, "not found")
    assert_problem(await accounts.delete(f"{url}/{people.peer}", headers=bearer(people.rep)), 404, "not on")
    assert await snapshot_counts() == before and await team_rows() == rows


async def test_a_merge_brings_the_duplicates_account_team_to_the_survivor(accounts, people):
    survivor = await new_account(accounts, people.rep)
    duplicate = await new_account(accounts, people.rep)
    resp = await accounts.put(f"/v1/accounts/{duplicate['id']}/team/{people.other_rep}", headers=bearer(people.rep),
                              json={"role": "finance"})
    assert resp.status_code == 200, resp.text
    before = len(await outbox_rows(accounts.runtime))
    merged = await accounts.post(f"/v1/accounts/{survivor['id']}/merge", headers=bearer(people.rep),
                                 json={"from_id": duplicate["id"]})
    assert merged.status_code == 200, merged.text
    types = [(t, k) for t, k, _ in await events_since(accounts, before) if k == survivor["id"]]
    assert types[:2] == [("kam.account.merged.v1", survivor["id"]), ("kam.account.team_changed.v1", survivor["id"])]
    team = (await accounts.get(f"/v1/accounts/{survivor['id']}/team", headers=bearer(people.other_rep))).json()
    assert [(m["user_id"], m["role"]) for m in team["members"]][1:] == [(str(people.other_rep), "finance")]
    assert team["version"] == merged.json()["version"] == 3
