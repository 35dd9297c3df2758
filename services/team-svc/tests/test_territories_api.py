"""Territories and assignment rules over HTTP: the match and its explanation, the ambiguity the
rule set must never hold, bad input, and events complete enough to match from a replica.

The rule set is global; every test uses its own region / industry labels so tests do not meet."""
import uuid

from kam_shared.events.team import AccountProfile, TerritoryRuleBook, TerritoryState
from team_svc.territories.models import territories, territory_rules


def label(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def north_territories(api):
    """North (region rule) with North Banking below it (region+industry rule) and a named account."""
    region, bank, ins = label("North"), label("banking"), label("insurance")
    manager = await api.user("manager")
    rep = await api.user("rep", superior=manager["id"])
    key_rep = await api.user("rep", superior=manager["id"])
    admin = await api.admin()
    named = uuid.uuid4()
    north = await api.client.post("/v1/territories", headers=admin, json={
        "name": f"North {region}", "owner_id": manager["id"],
        "rules": [{"name": "all of the north", "priority": 500, "regions": [region]}]})
    assert north.status_code == 201, north.text
    banking = await api.client.post("/v1/territories", headers=admin, json={
        "name": f"North banking {region}", "owner_id": rep["id"], "parent_id": north.json()["id"],
        "rules": [{"name": "north banks and insurers", "priority": 100, "regions": [region.upper()],
                   "industries": [bank, f"  {ins} "]},
                  {"name": "large north banks", "priority": 90, "regions": [region], "industries": [bank],
                   "size_bands": ["large", "enterprise"]}]})
    assert banking.status_code == 201, banking.text
    key = await api.client.post("/v1/territories", headers=admin, json={
        "name": f"Key accounts {region}", "owner_id": key_rep["id"],
        "rules": [{"name": "named", "priority": 1, "account_ids": [str(named)]}]})
    assert key.status_code == 201, key.text
    return dict(region=region, bank=bank, ins=ins, manager=manager, rep=rep, key_rep=key_rep, named=named,
                north=north.json(), banking=banking.json(), key=key.json())


async def match(api, user=None, **profile):
    headers = await (api.auth(user) if user else api.admin())
    resp = await api.client.post("/v1/territories/match", headers=headers, json=profile)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_match_picks_the_first_matching_rule_by_priority_and_explains_it(api):
    t = await north_territories(api)
    assert t["banking"]["path"] == [{"id": t["north"]["id"], "name": t["north"]["name"]},
                                    {"id": t["banking"]["id"], "name": t["banking"]["name"]}]
    # A named account wins over everything (priority 1), whatever its profile.
    got = await match(api, t["rep"], account_id=str(t["named"]), region=t["region"], industry=t["bank"])
    assert got["owner_id"] == t["key_rep"]["id"] and got["rule"]["name"] == "named"
    # A small bank in the region: the size rule (90) does not apply, the industry rule (100) does.
    got = await match(api, region=t["region"].lower(), industry=t["bank"].upper(), employees=50)
    assert got["matched"] and got["owner_id"] == t["rep"]["id"] and got["rule"]["priority"] == 100
    assert [p["name"] for p in got["passed_over"] if p["territory_id"] == t["banking"]["id"]] == ["large north banks"]
    failed = next(p for p in got["passed_over"] if p["name"] == "large north banks")["failed_on"]
    assert failed == ["size_band small not in [large, enterprise]"]
    assert "north banks and insurers" in got["explanation"] and f"region {t['region'].lower()} in" in got["explanation"]
    assert got["territory"]["path"][0]["id"] == t["north"]["id"]
    # A large bank: the size rule comes first.
    got = await match(api, region=t["region"], industry=t["bank"], employees=20_000)
    assert got["rule"]["name"] == "large north banks"
    assert {"criterion": "size_band", "value": "enterprise", "accepted": ["large", "enterprise"],
            "ok": True} in got["checks"]
    # Another industry in the region falls through to the region's rule and its owner.
    got = await match(api, region=t["region"], industry="retail")
    assert got["owner_id"] == t["manager"]["id"] and got["rule"]["name"] == "all of the north"
    # Nothing applies elsewhere.
    got = await match(api, region=label("Nowhere"), industry=t["bank"])
    assert got["matched"] is False and got["owner_id"] is None and "no rule matches" in got["explanation"]


async def test_events_carry_each_territory_with_all_its_rules_so_a_replica_matches_alike(api):
    before = await api.outbox_count()
    t = await north_territories(api)
    created = [e for typ, e in await api.events_since(before) if typ == "kam.team.territory_created.v1"]
    assert [e["subject"] for e in created] == [t["north"]["id"], t["banking"]["id"], t["key"]["id"]]
    assert len(created[1]["data"]["territory"]["rules"]) == 2
    # A rule added later: the update event carries the territory with ALL its rules, version 2.
    before = await api.outbox_count()
    added = await api.client.post(f"/v1/territories/{t['banking']['id']}/rules", headers={
        **await api.admin(), "If-Match": '"1"'}, json={"name": "north finance", "priority": 95,
                                                      "regions": [t["region"]], "industries": ["finance"]})
    assert added.status_code == 201, added.text
    [(typ, updated)] = await api.events_since(before)
    assert typ == "kam.team.territory_updated.v1" and updated["sequence"] == 2
    assert [r["name"] for r in updated["data"]["territory"]["rules"]] == [
        "large north banks", "north finance", "north banks and insurers"]  # in priority order

    # A replica keeps the newest state of each territory from the events, then matches locally.
    replica: dict[str, TerritoryState] = {}
    for typ, event in await api.events_since(0):
        if typ.startswith("kam.team.territory_"):
            state = TerritoryState.model_validate(event["data"]["territory"])
            if str(state.id) not in replica or replica[str(state.id)].version < state.version:
                replica[str(state.id)] = state
    book = TerritoryRuleBook(replica.values())
    for profile in ({"region": t["region"], "industry": "finance"}, {"region": t["region"], "industry": t["ins"]},
                    {"region": t["region"], "industry": t["bank"], "employees": 5000},
                    {"account_id": str(t["named"])}, {"region": label("x")}):
        local = book.match(AccountProfile(**profile))
        remote = await match(api, **profile)
        assert (str(local.owner_id) if local else None) == remote["owner_id"], profile
        assert (str(local.rule.rule.id) if local else None) == (remote["rule"] or {}).get("id")


async def test_two_equal_priority_rules_that_can_both_match_are_refused_and_nothing_is_written(api, problem):
    t = await north_territories(api)
    admin = await api.admin()
    state = await api.snapshot(territories, territory_rules)
    # Same priority as "north banks and insurers", overlapping on region and industry.
    resp = await api.client.post("/v1/territories", headers=admin, json={
        "name": label("Rival"), "owner_id": t["rep"]["id"],
        "rules": [{"name": "rival", "priority": 100, "regions": [t["region"]]}]})
    body = problem(resp, 409, "both have priority 100")
    assert "north banks and insurers" in body["detail"] and body["field"] == "priority"
    # Also within one request, and when an existing rule is edited into a clash.
    problem(await api.client.post("/v1/territories", headers=admin, json={
        "name": label("Twins"), "owner_id": t["rep"]["id"],
        "rules": [{"name": "a", "priority": 7, "industries": [t["ins"]]},
                  {"name": "b", "priority": 7, "regions": [t["region"]]}]}), 409, "priority 7")
    rule_id = next(r["id"] for r in t["banking"]["rules"] if r["name"] == "large north banks")
    problem(await api.client.patch(f"/v1/territories/{t['banking']['id']}/rules/{rule_id}", headers=admin,
                                   json={"priority": 100}), 409, "priority 100")
    assert await api.snapshot(territories, territory_rules) == state
    # Equal priority is fine when no account can match both (disjoint regions).
    other_region = label("South")
    ok = await api.client.post("/v1/territories", headers=admin, json={
        "name": label("South"), "owner_id": t["rep"]["id"],
        "rules": [{"name": "south", "priority": 100, "regions": [other_region]}]})
    assert ok.status_code == 201, ok.text


async def test_bad_territory_input_is_a_problem_naming_the_reason(api, problem):
    t = await north_territories(api)
    admin = await api.admin()
    base = {"name": label("Bad"), "owner_id": t["rep"]["id"]}
    state = await api.snapshot(territories, territory_rules)
    cases = [
        ({**base, "owner_id": str(uuid.uuid4())}, 422, "owner_id"),
        ({**base, "rules": [{"name": "r", "priority": 0}]}, 422, "priority"),
        ({**base, "rules": [{"name": "r", "priority": 3, "size_bands": ["huge"]}]}, 422, "size_bands"),
        ({**base, "rules": [{"name": "r", "priority": 3, "regions": ["  "]}]}, 422, "regions"),
        ({**base, "rules": [{"name": "r", "priority": 3, "regions": [label("a")]},
                            {"name": "R", "priority": 4, "regions": [label("b")]}]}, 409, "rule called"),
        ({**base, "parent_id": str(uuid.uuid4())}, 422, "parent_id"),
        ({**base, "colour": "red"}, 422, "colour"),
    ]
    for body, status, mentions in cases:
        problem(await api.client.post("/v1/territories", headers=admin, json=body), status, mentions)
    problem(await api.client.post("/v1/territories", headers=await api.auth(t["manager"]), json=base), 403, "admin")
    problem(await api.client.patch(f"/v1/territories/{t['north']['id']}", headers=admin,
                                   json={"parent_id": t["banking"]["id"]}), 409, "cycle")
    problem(await api.client.patch(f"/v1/territories/{t['north']['id']}", headers=admin, json={"active": False}),
            409, "below this one")
    problem(await api.client.patch(f"/v1/territories/{t['banking']['id']}", headers={**admin, "If-Match": '"9"'},
                                   json={"name": "x"}), 412, "version 1")
    # The owner of an active territory cannot be deactivated.
    problem(await api.client.patch(f"/v1/users/{t['key_rep']['id']}", headers=admin, json={"active": False}),
            409, "territories")
    assert await api.snapshot(territories, territory_rules) == state


async def test_rule_changes_reach_the_match_at_once_and_deactivated_territories_stop_matching(api):
    t = await north_territories(api)
    admin = await api.admin()
    profile = {"region": t["region"], "industry": t["ins"]}
    assert (await match(api, **profile))["owner_id"] == t["rep"]["id"]
    # Reassign the territory to someone else: the next match says so.
    moved = await api.client.patch(f"/v1/territories/{t['banking']['id']}", headers=admin,
                                   json={"owner_id": t["key_rep"]["id"]})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert (await match(api, **profile))["owner_id"] == t["key_rep"]["id"]
    # Remove the rule: the account falls through to the north territory.
    rule_id = next(r["id"] for r in t["banking"]["rules"] if r["name"] == "north banks and insurers")
    removed = await api.client.delete(f"/v1/territories/{t['banking']['id']}/rules/{rule_id}", headers=admin)
    assert removed.status_code == 200 and len(removed.json()["rules"]) == 1
    assert (await match(api, **profile))["owner_id"] == t["manager"]["id"]
    # A deactivated territory's rules stop matching.
    off = await api.client.patch(f"/v1/territories/{t['key']['id']}", headers=admin, json={"active": False})
    assert off.status_code == 200
    assert (await match(api, account_id=str(t["named"])))["matched"] is False


def account_event(account_id, owner, region, industry, employees=None, version=1, merged_into=None):
    from kam_shared.events import AccountCreated, AccountState, DomainEvent
    state = AccountState(id=account_id, name=f"acct {account_id.hex[:4]}", region=region, industry=industry,
                         owner_id=uuid.UUID(owner["id"]), version=version, employees=employees,
                         merged_into_id=merged_into)
    return DomainEvent("kam.account.created.v1", account_id, version,
                       AccountCreated(account=state)).to_cloudevent("/kam/account-svc")


def open_opportunity(account_id, owner, amount, probability=50, currency="CNY"):
    import datetime as dt
    from decimal import Decimal

    from kam_shared.events import DomainEvent, OpportunityCreated, OpportunityState, utcnow
    state = OpportunityState(id=uuid.uuid4(), account_id=account_id, name="deal", amount=Decimal(amount),
                             currency=currency, close_date=dt.date(2026, 12, 1), owner_id=uuid.UUID(owner["id"]),
                             stage=5, probability=probability, status="open", version=1, updated_at=utcnow())
    return DomainEvent("kam.opportunity.created.v1", state.id, 1,
                       OpportunityCreated(opportunity=state)).to_cloudevent("/kam/opportunity-svc")


async def test_capacity_shows_accounts_and_open_pipeline_per_territory_and_person(api):
    from kam_shared.testing import feed
    t = await north_territories(api)
    accounts = [uuid.uuid4() for _ in range(5)]
    await feed(api.runtime,
               account_event(accounts[0], t["rep"], t["region"], t["bank"], employees=50),       # banking
               account_event(accounts[1], t["rep"], t["region"], t["ins"]),                      # banking
               account_event(accounts[2], t["manager"], t["region"], "retail"),                  # north
               account_event(t["named"], t["key_rep"], label("elsewhere"), "retail"),            # key (named)
               account_event(accounts[3], t["rep"], label("nowhere"), "retail"),                 # unassigned
               account_event(accounts[4], t["rep"], t["region"], t["bank"], version=2, merged_into=accounts[0]),
               open_opportunity(accounts[0], t["rep"], "100000", probability=50),
               open_opportunity(accounts[1], t["rep"], "20000", probability=10),
               open_opportunity(t["named"], t["key_rep"], "7000", probability=90),
               open_opportunity(accounts[2], t["manager"], "999", currency="USD"))  # another currency
    resp = await api.client.get("/v1/capacity", headers=await api.admin())
    assert resp.status_code == 200, resp.text
    view = resp.json()
    by_territory = {x["territory_id"]: x for x in view["territories"]}
    banking, north, key = by_territory[t["banking"]["id"]], by_territory[t["north"]["id"]], by_territory[t["key"]["id"]]
    assert (banking["accounts"], banking["open_count"], banking["open_pipeline_amount"],
            banking["weighted_pipeline_amount"]) == (2, 2, "120000.00", "52000.00")
    assert (north["accounts"], north["open_count"]) == (1, 0)
    assert north["including_sub_territories"]["accounts"] == 3
    assert north["including_sub_territories"]["open_pipeline_amount"] == "120000.00"
    assert (key["accounts"], key["open_pipeline_amount"]) == (1, "7000.00")
    people = {p["user_id"]: p for p in view["people"]}
    assert (people[t["rep"]["id"]]["accounts"], people[t["rep"]["id"]]["open_pipeline_amount"],
            people[t["rep"]["id"]]["territories_owned"]) == (3, "120000.00", 1)
    assert view["unassigned"]["accounts"] >= 1 and view["as_of"] is not None
    # A manager sees their own part of the organisation only.
    mine = (await api.client.get("/v1/capacity", headers=await api.auth(t["rep"]))).json()
    assert {p["user_id"] for p in mine["people"]} == {t["rep"]["id"]}
    assert {x["territory_id"] for x in mine["territories"]} == {t["banking"]["id"]} and mine["unassigned"] is None
    usd = (await api.client.get("/v1/capacity", headers=await api.admin(), params={"currency": "USD"})).json()
    assert next(p for p in usd["people"] if p["user_id"] == t["manager"]["id"])["open_pipeline_amount"] == "999.00"
