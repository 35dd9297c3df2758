"""account-svc accounts over HTTP (in-process app, real migrated database, replicas fed by real events)."""
import datetime as dt
import json
import random
import uuid
from decimal import Decimal

import httpx
import pytest

from account_svc.accounts.domain.credit_code import generate
from kam_shared.events import DomainEvent, OpportunityClosed, OpportunityStageChanged, OpportunityState
from kam_shared.testing import bearer, feed, outbox_rows

RNG = random.Random(20261123)
ICBC = "91100000100003962T"  # ICBC's published code: passes the check character


def code() -> str:
    return generate(RNG)


def tag() -> str:
    return uuid.uuid4().hex[:8]


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"] + str(resp.json().get("field", "")), resp.json()


async def create(client, who, role="rep", expect=201, **body):
    resp = await client.post("/v1/accounts", headers=bearer(who, role), json={"name": f"Acct {tag()}", **body})
    assert resp.status_code == expect, resp.text
    return resp.json()


async def events_since(client, before):
    rows = (await outbox_rows(client.runtime))[before:]
    return [(r["event_type"], r["message_key"], json.loads(r["payload"])["data"]) for r in rows]


# --- create, uniqueness, enrichment ----------------------------------------------------------------

async def test_rep_creates_an_account_and_an_event_is_recorded(accounts, people):
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.post("/v1/accounts", headers=bearer(people.rep), json={
        "name": "  中国工商银行   股份有限公司 ", "credit_code": "91100000100003962t", "industry": "banking",
        "region": "North", "employees": 415000, "annual_revenue": "1000000000.00", "currency": "CNY",
        "phones": [{"label": "switchboard", "number": "95588"}],
        "addresses": [{"kind": "registered", "line": "复兴门内大街55号", "city": "北京"}, {"line": "金融街"}]})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["owner_id"] == str(people.rep) and body["version"] == 1 and resp.headers["etag"] == '"1"'
    assert body["name"] == "中国工商银行 股份有限公司" and body["credit_code"] == ICBC
    assert body["normalized_name"] == "中国工商银行" and body["status"] == "prospect"
    assert body["annual_revenue"] == "1000000000.00" and body["phones"][0]["number"] == "95588"
    assert [a["kind"] for a in body["addresses"]] == ["registered", "office"]
    events = await events_since(accounts, before)
    assert [(t, k) for t, k, _ in events] == [("kam.account.created.v1", body["id"])]
    data = events[0][2]
    assert data["assignment_rule"] == "creator" and data["account"]["credit_code"] == ICBC
    history = (await accounts.get(f"/v1/accounts/{body['id']}/owner-history", headers=bearer(people.rep))).json()
    assert [(h["from_owner_id"], h["to_owner_id"], h["rule"]) for h in history] == [(None, str(people.rep), "creator")]


async def test_visibility_follows_the_hierarchy(accounts, people):
    acc = await create(accounts, people.rep, name="Visible Ltd")
    url = f"/v1/accounts/{acc['id']}"
    assert (await accounts.get(url, headers=bearer(people.rep))).status_code == 200
    assert (await accounts.get(url, headers=bearer(people.manager, "manager"))).status_code == 200
    assert (await accounts.get(url, headers=bearer(people.director, "manager"))).status_code == 200
    assert (await accounts.get(url, headers=bearer(uuid.uuid4(), "admin"))).status_code == 200
    assert_problem(await accounts.get(url, headers=bearer(people.other_rep)), 404, "not found")
    assert_problem(await accounts.get(url, headers=bearer(people.peer)), 404, "not found")
    listed = (await accounts.get("/v1/accounts", headers=bearer(people.other_rep))).json()["items"]
    assert acc["id"] not in [a["id"] for a in listed]


async def test_manager_assigns_to_their_rep_but_a_rep_cannot_assign_to_others(accounts, people, snapshot_counts):
    ok = await create(accounts, people.manager, "manager", name="Assigned Co", owner_id=str(people.rep))
    assert ok["owner_id"] == str(people.rep)
    before = await snapshot_counts()
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(people.rep),
                                       json={"name": "Grab Co", "owner_id": str(people.other_rep)}), 403, "owner_id")
    assert await snapshot_counts() == before


async def test_same_credit_code_conflicts_and_names_the_existing_account(accounts, people, snapshot_counts):
    twin = code()
    first = await create(accounts, people.rep, name="Twin A", credit_code=twin)
    before = await snapshot_counts()
    resp = await accounts.post("/v1/accounts", headers=bearer(people.rep),
                               json={"name": "Twin B", "credit_code": twin.lower()})
    assert_problem(resp, 409, "credit_code")
    assert resp.json()["existing_id"] == first["id"] and resp.json()["match"] == "credit_code"
    assert await snapshot_counts() == before


async def test_near_identical_name_conflicts_unless_the_credit_codes_differ(accounts, people, snapshot_counts):
    t = tag()
    first = await create(accounts, people.rep, name=f"Globex {t} Trading Co., Ltd.")
    before = await snapshot_counts()
    resp = await accounts.post("/v1/accounts", headers=bearer(people.rep),
                               json={"name": f"ＧＬＯＢＥＸ {t.upper()} TRADING LIMITED"})
    assert_problem(resp, 409, "normalized_name")
    assert resp.json()["existing_id"] == first["id"]
    assert await snapshot_counts() == before
    # A group and its subsidiary may share a normalised name: different credit codes, different entities.
    a = await create(accounts, people.rep, name=f"天津港{t}集团有限公司", credit_code=code())
    b = await create(accounts, people.rep, name=f"天津港{t}有限公司", credit_code=code())
    assert a["normalized_name"] == b["normalized_name"] and a["id"] != b["id"]


async def test_on_duplicate_enrich_fills_empty_fields_of_the_existing_account(accounts, people, snapshot_counts):
    t = tag()
    first = await create(accounts, people.rep, name=f"Initech {t} Inc.", industry="software")
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.post("/v1/accounts?on_duplicate=enrich", headers=bearer(people.rep), json={
        "name": f"INITECH {t} LLC", "industry": "retail", "region": "South", "website": "https://initech.example"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == first["id"] and body["version"] == 2
    assert (body["industry"], body["region"], body["website"]) == ("software", "South", "https://initech.example")
    (event_type, key, data), = await events_since(accounts, before)
    assert event_type == "kam.account.updated.v1" and key == first["id"] and data["cause"] == "enrich"
    assert data["changes"]["region"] == {"from": None, "to": "South"} and "industry" not in data["changes"]
    # Someone who may not see the existing account cannot enrich it: 409 saying only that it exists and
    # who owns it (not its id), nothing written.
    counts = await snapshot_counts()
    resp = await accounts.post("/v1/accounts?on_duplicate=enrich", headers=bearer(people.other_rep),
                               json={"name": f"Initech {t}", "employees": 5})
    assert_problem(resp, 409, "another account manager")
    assert "existing_id" not in resp.json() and first["id"] not in resp.text
    assert resp.json()["owner_id"] == str(people.rep) and resp.json()["visible"] is False
    assert await snapshot_counts() == counts


async def test_duplicates_are_scored(accounts, people):
    t = tag()
    code_a = code()
    a = await create(accounts, people.rep, name=f"深圳市腾飞{t}科技有限公司", credit_code=code_a, region="South")
    b = await create(accounts, people.other_rep, name=f"深圳市腾飞{t}科技发展有限公司", region="South")
    resp = await accounts.get("/v1/accounts/duplicates", headers=bearer(people.rep),
                              params={"name": f"深圳腾飞{t}科技股份有限公司", "region": "South"})
    assert resp.status_code == 200, resp.text
    found = {c["id"]: c for c in resp.json()["candidates"]}
    assert a["id"] in found and b["id"] not in found and found[a["id"]]["visible"]
    assert not found[a["id"]]["exact"]
    # other_rep's: listed as a match and who owns it, nothing more (no id, name, region, reasons).
    hidden, = [c for c in resp.json()["candidates"] if not c["visible"]]
    assert hidden == {"id": None, "name": None, "credit_code": None, "region": None, "score": hidden["score"],
                      "exact": False, "reasons": [], "visible": False, "owner_id": str(people.other_rep)}
    assert 0 < hidden["score"] < 95 and b["name"] not in resp.text
    assert "same region" in found[a["id"]]["reasons"]
    by_code = (await accounts.get("/v1/accounts/duplicates", headers=bearer(people.rep),
                                  params={"credit_code": code_a.lower()})).json()["candidates"]
    assert by_code[0]["id"] == a["id"] and by_code[0]["score"] == 100 and by_code[0]["exact"]
    exact = (await accounts.get("/v1/accounts/duplicates", headers=bearer(people.rep),
                                params={"name": f"深圳市腾飞{t}科技"})).json()["candidates"]
    assert exact[0]["id"] == a["id"] and exact[0]["score"] == 95
    assert_problem(await accounts.get("/v1/accounts/duplicates", headers=bearer(people.rep)), 422, "name")
    assert_problem(await accounts.get("/v1/accounts/duplicates", headers=bearer(people.rep),
                                      params={"credit_code": "123"}), 422, "credit_code")


@pytest.mark.parametrize("body, status, mentions", [
    ({"name": ""}, 422, "name"),
    ({"name": "   "}, 422, "name"),
    ({"name": "!!!"}, 422, "name"),
    ({"name": "X", "tier": "gold"}, 422, "tier"),
    ({"name": "X", "type": "vip"}, 422, "type"),
    ({"name": "X", "status": "zombie"}, 422, "status"),
    ({"name": "X", "strategic_flags": ["famous"]}, 422, "strategic_flags"),
    ({"name": "X", "owner_id": "not-a-uuid"}, 422, "owner_id"),
    ({"name": "X", "owner_id": str(uuid.uuid4())}, 422, "owner_id"),   # not in the sales organisation
    ({"name": "X", "credit_code": "91310000MA1FL1234X"}, 422, "credit_code"),  # wrong check character
    ({"name": "X", "credit_code": "9131000"}, 422, "credit_code"),
    ({"name": "X", "employees": -1}, 422, "employees"),
    ({"name": "X", "annual_revenue": "-5.00"}, 422, "annual_revenue"),
    ({"name": "X", "annual_revenue": "1.001"}, 422, "annual_revenue"),
    ({"name": "X", "currency": "XYZ"}, 422, "currency"),
    ({"name": "X", "gross_margin_pct": "101"}, 422, "gross_margin_pct"),
    ({"name": "X", "parent_id": str(uuid.uuid4())}, 422, "parent_id"),
    ({"name": "X", "addresses": [{"kind": "moon", "line": "x"}]}, 422, "addresses"),
    ({"name": "X", "merged_into_id": str(uuid.uuid4())}, 422, "merged_into_id"),
    ({"name": 42}, 422, "name"),
    ({}, 422, "name"),
])
async def test_bad_account_input_is_a_problem_and_writes_nothing(accounts, people, snapshot_counts, body, status,
                                                                 mentions):
    before = await snapshot_counts()
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(people.rep), json=body), status, mentions)
    assert await snapshot_counts() == before


async def test_owner_must_be_an_active_member_of_the_sales_organisation(accounts, people, snapshot_counts):
    before = await snapshot_counts()
    resp = await accounts.post("/v1/accounts", headers=bearer(people.manager, "manager"),
                               json={"name": f"Leaver {tag()}", "owner_id": str(people.left)})
    assert_problem(resp, 422, "inactive")
    assert resp.json()["field"] == "owner_id"
    # The creator is the owner by default, so an unknown caller cannot create accounts for nobody.
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(uuid.uuid4()), json={"name": "Ghost"}),
                   422, "owner_id")
    assert await snapshot_counts() == before


async def test_an_owner_the_replica_has_not_seen_yet_is_looked_up_in_team_svc(accounts, people):
    newbie = uuid.uuid4()
    accounts.team.add(newbie, "rep", superior_id=people.manager)
    acc = await create(accounts, people.manager, "manager", owner_id=str(newbie))
    assert acc["owner_id"] == str(newbie)
    calls = accounts.team.calls
    await create(accounts, people.manager, "manager", owner_id=str(newbie))  # remembered in the replica now
    assert accounts.team.calls == calls
    assert (await accounts.get(f"/v1/accounts/{acc['id']}", headers=bearer(newbie))).status_code == 200


async def test_team_svc_unreachable_is_503_naming_the_owner(accounts, people, snapshot_counts):
    def down(request):
        raise httpx.ConnectError("connection refused")

    saved = accounts.runtime.peers["team-svc"]
    accounts.runtime.peers["team-svc"] = lambda: httpx.AsyncClient(transport=httpx.MockTransport(down),
                                                                           base_url="http://team-svc")
    try:
        before = await snapshot_counts()
        assert_problem(await accounts.post("/v1/accounts", headers=bearer(people.manager, "manager"),
                                           json={"name": "Later Co", "owner_id": str(uuid.uuid4())}), 503, "owner_id")
        assert await snapshot_counts() == before
    finally:
        accounts.runtime.peers["team-svc"] = saved


# --- change, list, search --------------------------------------------------------------------------

async def test_patch_changes_only_what_is_sent_with_if_match(accounts, people, snapshot_counts):
    acc = await create(accounts, people.rep, industry="banking", region="North")
    url = f"/v1/accounts/{acc['id']}"
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.patch(url, headers={**bearer(people.rep), "If-Match": '"1"'}, json={
        "industry": "insurance", "region": None, "status": "active", "gross_margin_pct": "18.5",
        "strategic_flags": ["image_influence", "strategic_significance"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["version"] == 2 and resp.headers["etag"] == '"2"'
    assert (body["industry"], body["region"], body["status"]) == ("insurance", None, "active")
    assert body["gross_margin_pct"] == "18.50"
    assert body["strategic_flags"] == ["strategic_significance", "image_influence"]
    (event_type, _, data), = await events_since(accounts, before)
    assert event_type == "kam.account.updated.v1"
    assert data["changes"]["industry"] == {"from": "banking", "to": "insurance"}
    assert data["changes"]["region"] == {"from": "North", "to": None}
    assert data["account"]["version"] == 2
    # Nothing different: no version, no event.
    same = await accounts.patch(url, headers=bearer(people.rep), json={"industry": "insurance"})
    assert same.json()["version"] == 2
    counts = await snapshot_counts()
    assert_problem(await accounts.patch(url, headers={**bearer(people.rep), "If-Match": '"1"'},
                                        json={"industry": "x"}), 412, "version 2")
    assert_problem(await accounts.patch(url, headers=bearer(people.rep), json={"owner_id": str(people.peer)}),
                   422, "owner_id")
    assert_problem(await accounts.patch(url, headers=bearer(people.rep), json={"name": None}), 422, "name")
    assert_problem(await accounts.patch(url, headers=bearer(people.rep), json={"status": None}), 422, "status")
    assert_problem(await accounts.patch(url, headers=bearer(people.other_rep), json={"industry": "x"}), 404,
                   "not found")
    assert await snapshot_counts() == counts


async def test_rename_or_recode_into_an_existing_account_is_409(accounts, people, snapshot_counts):
    taken = code()
    other = await create(accounts, people.rep, name=f"Hooli {tag()} Ltd", credit_code=taken)
    mine = await create(accounts, people.rep)
    before = await snapshot_counts()
    resp = await accounts.patch(f"/v1/accounts/{mine['id']}", headers=bearer(people.rep),
                                json={"name": other["name"].upper().replace(" LTD", " Inc.")})
    assert_problem(resp, 409, "normalized_name")
    assert resp.json()["existing_id"] == other["id"]
    assert_problem(await accounts.patch(f"/v1/accounts/{mine['id']}", headers=bearer(people.rep),
                                        json={"credit_code": taken}), 409, "credit_code")
    assert await snapshot_counts() == before


async def test_list_filters_search_and_cursor(accounts, people):
    region = f"R-{tag()}"
    made = [await create(accounts, people.rep, name=f"北京{region}{i}电力有限公司", region=region, industry="utilities")
            for i in range(3)]
    await create(accounts, people.peer, region=region)
    await accounts.post(f"/v1/accounts/{made[0]['id']}/classification", headers=bearer(people.manager, "manager"),
                        json={"tier": "key", "type": "strategic"})

    async def ids(who, role="rep", **params):
        resp = await accounts.get("/v1/accounts", headers=bearer(who, role), params={"region": region, **params})
        assert resp.status_code == 200, resp.text
        return [a["id"] for a in resp.json()["items"]]

    mine = sorted(a["id"] for a in made)
    assert await ids(people.rep) == mine
    assert len(await ids(people.manager, "manager")) == 4
    assert await ids(people.manager, "manager", owner_id=str(people.rep)) == mine
    assert await ids(people.rep, tier="key") == [made[0]["id"]]
    assert await ids(people.rep, type="strategic", status="prospect") == [made[0]["id"]]
    assert await ids(people.rep, q=f"{region}1电力") == [made[1]["id"]]
    assert await ids(people.rep, q=f"{region.lower()}2电力股份有限公司") == [made[2]["id"]]
    page = (await accounts.get("/v1/accounts", headers=bearer(people.rep),
                               params={"region": region, "limit": 2})).json()
    rest = (await accounts.get("/v1/accounts", headers=bearer(people.rep),
                               params={"region": region, "limit": 2, "cursor": page["next_cursor"]})).json()
    assert [a["id"] for a in page["items"] + rest["items"]] == mine and rest["next_cursor"] is None
    assert_problem(await accounts.get("/v1/accounts", headers=bearer(people.rep), params={"tier": "gold"}), 422, "tier")
    assert_problem(await accounts.get("/v1/accounts", headers=bearer(people.rep), params={"cursor": "%%%"}), 422,
                   "cursor")


# --- hierarchy ---------------------------------------------------------------------------------------

async def test_hierarchy_tree_and_cycles(accounts, people, snapshot_counts):
    group = await create(accounts, people.rep, name=f"Group {tag()}", centralised_purchasing=True)
    sub = await create(accounts, people.rep, name=f"Sub {tag()}", parent_id=group["id"])
    branch = await create(accounts, people.rep, name=f"Branch {tag()}", parent_id=sub["id"])
    hidden = await create(accounts, uuid.uuid4(), "admin", name=f"Hidden {tag()}", parent_id=group["id"],
                          owner_id=str(people.other_rep))
    tree = (await accounts.get(f"/v1/accounts/{group['id']}/tree", headers=bearer(people.rep))).json()
    assert tree["ancestors"] == [] and tree["tree"]["centralised_purchasing"] is True
    children = {c["id"]: c for c in tree["tree"]["children"]}
    assert children[sub["id"]]["children"][0]["id"] == branch["id"]
    assert children[hidden["id"]]["restricted"] is True and children[hidden["id"]]["name"] is None
    up = (await accounts.get(f"/v1/accounts/{branch['id']}/tree", headers=bearer(people.rep))).json()
    assert [a["id"] for a in up["ancestors"]] == [group["id"], sub["id"]] and up["tree"]["children"] == []
    listed = (await accounts.get("/v1/accounts", headers=bearer(people.rep), params={"parent_id": group["id"]})).json()
    assert [a["id"] for a in listed["items"]] == [sub["id"]]

    before = await snapshot_counts()
    assert_problem(await accounts.patch(f"/v1/accounts/{group['id']}", headers=bearer(people.rep),
                                        json={"parent_id": branch["id"]}), 409, "cycle")
    assert_problem(await accounts.patch(f"/v1/accounts/{group['id']}", headers=bearer(people.rep),
                                        json={"parent_id": group["id"]}), 409, "parent_id")
    # Enriching the group with a parent from its own subtree would close a loop too.
    assert_problem(await accounts.post("/v1/accounts?on_duplicate=enrich", headers=bearer(people.rep),
                                       json={"name": group["name"], "parent_id": branch["id"]}), 409, "cycle")
    # A parent you may not see does not exist for you.
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(people.other_rep),
                                       json={"name": "Sneaky", "parent_id": group["id"]}), 422, "parent_id")
    assert await snapshot_counts() == before
    moved = await accounts.patch(f"/v1/accounts/{branch['id']}", headers=bearer(people.rep),
                                 json={"parent_id": group["id"]})
    assert moved.status_code == 200 and moved.json()["parent_id"] == group["id"]


# --- merge -------------------------------------------------------------------------------------------

def opportunity_event(opp_id, account_id, amount, *, currency="CNY", close_date="2026-06-30", status="won",
                      version=2, owner=None):
    state = OpportunityState(id=opp_id, account_id=account_id, name="deal", amount=Decimal(amount), currency=currency,
                             close_date=dt.date.fromisoformat(close_date), owner_id=owner or uuid.uuid4(),
                             stage=8 if status != "open" else 3, probability=100 if status == "won" else 0,
                             status=status, version=version, updated_at=dt.datetime.now(dt.timezone.utc))
    if status == "open":
        data = OpportunityStageChanged(opportunity=state, from_stage=8, to_stage=3)
        kind = "kam.opportunity.stage_changed.v1"
    else:
        data = OpportunityClosed(opportunity=state, outcome=status, reason="r", from_stage=7)
        kind = "kam.opportunity.closed.v1"
    return DomainEvent(kind, opp_id, version, data).to_cloudevent("/kam/opportunity-svc")


async def test_merge_moves_everything_and_leaves_a_tombstone(accounts, people, snapshot_counts):
    rep = bearer(people.rep)
    survivor = await create(accounts, people.rep, name=f"Umbrella {tag()} Corp", industry="pharma")
    dup_code = code()
    duplicate = await create(accounts, people.rep, name=f"Umbrela {tag()}", credit_code=dup_code, region="East")
    child = await create(accounts, people.rep, parent_id=duplicate["id"])
    contact = (await accounts.post(f"/v1/accounts/{duplicate['id']}/contacts", headers=rep,
                                   json={"name": "Wesker", "buying_role": "decision_maker"})).json()
    complaint = (await accounts.post(f"/v1/accounts/{duplicate['id']}/complaints", headers=rep,
                                     json={"subject": "late delivery"})).json()
    await feed(accounts.runtime, opportunity_event(uuid.uuid4(), uuid.UUID(duplicate["id"]), "500.00",
                                                   currency="SEK"))
    before = len(await outbox_rows(accounts.runtime))

    resp = await accounts.post(f"/v1/accounts/{survivor['id']}/merge", headers={**rep, "If-Match": '"1"'},
                               json={"from_id": duplicate["id"]})
    assert resp.status_code == 200, resp.text
    merged = resp.json()
    assert merged["credit_code"] == dup_code and merged["region"] == "East" and merged["industry"] == "pharma"
    assert merged["version"] == 2
    tombstone = (await accounts.get(f"/v1/accounts/{duplicate['id']}", headers=rep)).json()
    assert tombstone["merged_into_id"] == survivor["id"] and tombstone["credit_code"] is None
    assert (await accounts.get(f"/v1/accounts/{child['id']}", headers=rep)).json()["parent_id"] == survivor["id"]
    contacts = (await accounts.get(f"/v1/accounts/{survivor['id']}/contacts", headers=rep)).json()["items"]
    assert [c["id"] for c in contacts] == [contact["id"]] and contacts[0]["version"] == 2
    complaints = (await accounts.get(f"/v1/accounts/{survivor['id']}/complaints", headers=rep)).json()["items"]
    assert [c["id"] for c in complaints] == [complaint["id"]]

    events = await events_since(accounts, before)
    by_type = {}
    for event_type, key, data in events:
        by_type.setdefault(event_type, []).append((key, data))
    (key, data), = by_type["kam.account.merged.v1"]
    assert key == survivor["id"] and data["survivor_id"] == survivor["id"] and data["merged_id"] == duplicate["id"]
    assert data["merged_version"] == tombstone["version"] and data["account"]["credit_code"] == dup_code
    assert data["moved"]["contact_ids"] == [contact["id"]] and data["moved"]["child_account_ids"] == [child["id"]]
    assert sorted(data["filled_fields"]) == ["credit_code", "region"]
    assert by_type["kam.account.contact_updated.v1"][0][1]["changes"]["account_id"] == {
        "from": duplicate["id"], "to": survivor["id"]}
    assert by_type["kam.account.updated.v1"][0][1]["cause"] == "merge"  # the child's new parent
    assert "kam.account.complaint_updated.v1" in by_type
    # Won revenue of the merged account counts for the survivor.
    pareto = (await accounts.get("/v1/accounts/pareto", headers=rep, params={"currency": "SEK"})).json()
    assert [(i["account_id"], i["won_amount"]) for i in pareto["items"]] == [(survivor["id"], "500.00")]
    # The duplicate is found no more; its credit code now finds the survivor.
    found = (await accounts.get("/v1/accounts/duplicates", headers=rep, params={"credit_code": dup_code})).json()
    assert [c["id"] for c in found["candidates"]] == [survivor["id"]]

    counts = await snapshot_counts()
    for url, body, status, mentions in [
        (f"/v1/accounts/{survivor['id']}/merge", {"from_id": survivor["id"]}, 422, "from_id"),
        (f"/v1/accounts/{survivor['id']}/merge", {"from_id": duplicate["id"]}, 409, "from_id"),
        (f"/v1/accounts/{duplicate['id']}/merge", {"from_id": child["id"]}, 409, "merged into"),
        (f"/v1/accounts/{survivor['id']}/merge", {"from_id": str(uuid.uuid4())}, 404, "from_id"),
    ]:
        assert_problem(await accounts.post(url, headers=rep, json=body), status, mentions)
    assert_problem(await accounts.patch(f"/v1/accounts/{duplicate['id']}", headers=rep, json={"industry": "x"}),
                   409, "merged into")
    assert_problem(await accounts.post(f"/v1/accounts/{duplicate['id']}/contacts", headers=rep,
                                       json={"name": "Late"}), 409, "merged into")
    assert await snapshot_counts() == counts


async def test_merge_refuses_two_legal_entities_and_a_survivor_below_the_duplicate(accounts, people, snapshot_counts):
    rep = bearer(people.rep)
    a = await create(accounts, people.rep, credit_code=code())
    b = await create(accounts, people.rep, credit_code=code())
    top = await create(accounts, people.rep)
    below = await create(accounts, people.rep, parent_id=top["id"])
    other = await create(accounts, people.other_rep)
    before = await snapshot_counts()
    assert_problem(await accounts.post(f"/v1/accounts/{a['id']}/merge", headers=rep, json={"from_id": b["id"]}),
                   409, "credit_code")
    assert_problem(await accounts.post(f"/v1/accounts/{below['id']}/merge", headers=rep, json={"from_id": top["id"]}),
                   409, "below")
    assert_problem(await accounts.post(f"/v1/accounts/{a['id']}/merge", headers=rep, json={"from_id": other["id"]}),
                   404, "from_id")
    assert_problem(await accounts.post(f"/v1/accounts/{a['id']}/merge", headers={**rep, "If-Match": '"7"'},
                                       json={"from_id": top["id"]}), 412, "version")
    assert await snapshot_counts() == before


# --- assignment --------------------------------------------------------------------------------------

async def test_reassignment_is_its_own_event_and_kept_in_history(accounts, people, snapshot_counts):
    acc = await create(accounts, people.rep)
    url = f"/v1/accounts/{acc['id']}"
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.post(f"{url}/reassign", headers={**bearer(people.manager, "manager"), "If-Match": '"1"'},
                               json={"owner_id": str(people.peer), "reason": "territory rebalancing"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["owner_id"] == str(people.peer) and resp.json()["version"] == 2
    (event_type, key, data), = await events_since(accounts, before)
    assert event_type == "kam.account.reassigned.v1" and key == acc["id"]
    assert (data["from_owner_id"], data["to_owner_id"], data["reason"]) == (
        str(people.rep), str(people.peer), "territory rebalancing")
    history = (await accounts.get(f"{url}/owner-history", headers=bearer(people.peer))).json()
    assert [(h["to_owner_id"], h["rule"]) for h in history] == [(str(people.rep), "creator"),
                                                                (str(people.peer), "reassigned")]
    assert history[1]["changed_by"] == str(people.manager)
    assert_problem(await accounts.get(url, headers=bearer(people.rep)), 404, "not found")  # not the rep's any more

    counts = await snapshot_counts()
    manager = bearer(people.manager, "manager")
    assert_problem(await accounts.post(f"{url}/reassign", headers=bearer(people.peer),
                                       json={"owner_id": str(people.rep)}), 403, "owner_id")
    assert_problem(await accounts.post(f"{url}/reassign", headers=manager, json={"owner_id": str(people.left)}),
                   422, "inactive")
    assert_problem(await accounts.post(f"{url}/reassign", headers=manager, json={"owner_id": str(uuid.uuid4())}),
                   422, "owner_id")
    assert_problem(await accounts.post(f"{url}/reassign", headers=bearer(people.other_rep),
                                       json={"owner_id": str(people.other_rep)}), 404, "not found")
    assert await snapshot_counts() == counts


# --- classification ----------------------------------------------------------------------------------

async def test_tier_score_explains_each_criterion_and_can_be_applied(accounts, people):
    rep, manager = bearer(people.rep), bearer(people.manager, "manager")
    year = dt.date.today().year
    big = await create(accounts, people.rep, gross_margin_pct="28", strategic_flags=["strategic_significance"])
    small = await create(accounts, people.rep)
    await feed(accounts.runtime, *[opportunity_event(uuid.uuid4(), uuid.UUID(big["id"]), "900000.00", currency="CHF",
                                                     close_date=f"{y}-03-31") for y in (year - 2, year - 1, year)],
               opportunity_event(uuid.uuid4(), uuid.UUID(small["id"]), "1000.00", currency="CHF",
                                 close_date=f"{year}-01-31"))
    score = (await accounts.get(f"/v1/accounts/{big['id']}/tier-score", headers=rep, params={"currency": "CHF"})).json()
    assert score["recommended_tier"] == "key" and score["score"] == 30 + 25 + 20 + 10
    criteria = {c["name"]: c for c in score["criteria"]}
    assert criteria["revenue_contribution"]["value"] == "2700000.00 CHF"
    assert criteria["continuous_purchasing"]["value"] == "3"
    low = (await accounts.get(f"/v1/accounts/{small['id']}/tier-score", headers=rep, params={"currency": "CHF"})).json()
    assert low["recommended_tier"] in ("ordinary", "deprioritised")
    assert "margin unknown" in {c["name"]: c for c in low["criteria"]}["profit_contribution"]["explanation"]

    before = len(await outbox_rows(accounts.runtime))
    applied = await accounts.post(f"/v1/accounts/{big['id']}/classification", headers=manager,
                                  json={"apply_recommendation": True, "type": "economic", "currency": "CHF"})
    assert applied.status_code == 200, applied.text
    assert (applied.json()["tier"], applied.json()["type"]) == (score["recommended_tier"], "economic")
    (event_type, _, data), = await events_since(accounts, before)
    assert event_type == "kam.account.classified.v1" and data["changes"]["type"] == {"from": None, "to": "economic"}
    assert data["score"] is not None
    assert_problem(await accounts.post(f"/v1/accounts/{big['id']}/classification", headers=manager,
                                       json={"tier": "platinum"}), 422, "tier")
    assert_problem(await accounts.post(f"/v1/accounts/{big['id']}/classification", headers=manager, json={}),
                   422, "tier")
    assert_problem(await accounts.get(f"/v1/accounts/{big['id']}/tier-score", headers=rep,
                                      params={"currency": "ABC"}), 422, "currency")


async def test_pareto_shows_which_accounts_make_80_percent(accounts, people):
    rep = bearer(people.rep)
    made = [await create(accounts, people.rep) for _ in range(4)]
    theirs = await create(accounts, people.other_rep)
    opp = [uuid.uuid4() for _ in range(6)]
    await feed(accounts.runtime,
               opportunity_event(opp[0], uuid.UUID(made[0]["id"]), "5000.00", currency="NOK"),
               opportunity_event(opp[1], uuid.UUID(made[1]["id"]), "2500.00", currency="NOK"),
               opportunity_event(opp[2], uuid.UUID(made[2]["id"]), "1500.00", currency="NOK"),
               opportunity_event(opp[3], uuid.UUID(made[3]["id"]), "1000.00", currency="NOK"),
               opportunity_event(opp[4], uuid.UUID(theirs["id"]), "99999.00", currency="NOK"),
               opportunity_event(opp[5], uuid.UUID(made[3]["id"]), "7.00", currency="DKK"))
    view = (await accounts.get("/v1/accounts/pareto", headers=rep, params={"currency": "NOK"})).json()
    assert view["total_won"] == "10000.00" and view["accounts_with_revenue"] == 4  # other_rep's is not visible
    assert [(i["account_id"], i["in_top"]) for i in view["items"]] == [
        (made[0]["id"], True), (made[1]["id"], True), (made[2]["id"], True), (made[3]["id"], False)]
    assert view["top_accounts"] == 3 and view["top_share_of_accounts_pct"] == "75.00"
    assert view["items"][2]["cumulative_pct"] == "90.00" and view["other_currencies"]["DKK"] == "7.00"
    # A replayed older event changes nothing; a reopened opportunity stops counting as won.
    await feed(accounts.runtime, opportunity_event(opp[0], uuid.UUID(made[0]["id"]), "1.00", currency="NOK",
                                                   version=1),
               opportunity_event(opp[1], uuid.UUID(made[1]["id"]), "2500.00", currency="NOK", status="open",
                                 version=3))
    view = (await accounts.get("/v1/accounts/pareto", headers=rep, params={"currency": "NOK"})).json()
    assert view["total_won"] == "7500.00" and view["items"][0]["won_amount"] == "5000.00"
    admin = (await accounts.get("/v1/accounts/pareto", headers=bearer(uuid.uuid4(), "admin"),
                                params={"currency": "NOK", "until": "2026-12-31"})).json()
    assert admin["items"][0]["account_id"] == theirs["id"]


# --- snapshot ----------------------------------------------------------------------------------------

async def test_snapshot_pages_every_account_with_version_for_admins(accounts, people):
    admin = bearer(uuid.uuid4(), "admin")
    survivor, gone = await create(accounts, people.rep), await create(accounts, people.rep)
    await accounts.post(f"/v1/accounts/{survivor['id']}/merge", headers=bearer(people.rep),
                        json={"from_id": gone["id"]})
    seen, cursor = [], None
    while True:
        page = (await accounts.get("/v1/accounts/snapshot", headers=admin,
                                   params={"limit": 7, **({"cursor": cursor} if cursor else {})})).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [a["id"] for a in seen]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) > 7
    assert all("version" in a and "owner_id" in a for a in seen)
    tombstone = next(a for a in seen if a["id"] == gone["id"])  # tombstones are part of the snapshot
    assert tombstone["merged_into_id"] == survivor["id"] and tombstone["version"] == 2
    assert_problem(await accounts.get("/v1/accounts/snapshot", headers=bearer(people.manager, "manager")), 403,
                   "admin")


async def test_models_match_the_migrations(accounts):
    """models.py and migrations/ describe the same schema (the trigram index exists only on PostgreSQL, by design)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from account_svc.models import metadata

    async with accounts.runtime.db.engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"compare_type": True}), metadata))
    assert [d for d in diff if not (d[0] == "remove_index" and d[1].name == "ix_accounts_normalized_name_trgm")] == []


async def test_no_token_no_access(accounts):
    assert_problem(await accounts.post("/v1/accounts", json={"name": "X"}), 401, "bearer")
    assert_problem(await accounts.get(f"/v1/accounts/{uuid.uuid4()}", headers={"Authorization": "Bearer x"}),
                   401, "malformed")
