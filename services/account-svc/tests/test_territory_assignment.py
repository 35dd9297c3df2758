"""New accounts go to the account manager team-svc's territory rules name (区域负责范围和分派规则),
from account-svc's replica of the territory events; an explicit owner still wins, and the creator
is the fallback when no rule matches."""
import json
import uuid

from kam_shared.events import DomainEvent
from kam_shared.events.team import TerritoryCreated, TerritoryRuleState, TerritoryState, TerritoryUpdated
from kam_shared.testing import bearer, feed, outbox_rows


def territory_event(territory: TerritoryState, created: bool = True):
    kind, payload = (("kam.team.territory_created.v1", TerritoryCreated(territory=territory)) if created
                     else ("kam.team.territory_updated.v1", TerritoryUpdated(territory=territory)))
    return DomainEvent(kind, territory.id, territory.version, payload).to_cloudevent("/kam/team-svc")


async def test_territory_rules_pick_the_owner_of_a_new_account(accounts, people):
    region = f"Region-{uuid.uuid4().hex[:6]}"  # this test's own region: other tests' accounts stay unmatched
    banking = TerritoryRuleState(id=uuid.uuid4(), name="banks", priority=1, regions=[region], industries=["banking"])
    anything = TerritoryRuleState(id=uuid.uuid4(), name="rest of region", priority=5, regions=[region])
    north = TerritoryState(id=uuid.uuid4(), name=region, parent_id=None, owner_id=people.peer, version=1,
                           rules=[banking, anything])
    await feed(accounts.runtime, territory_event(north))

    async def create(**body):
        resp = await accounts.post("/v1/accounts", headers=bearer(people.rep),
                                   json={"name": f"Acct {uuid.uuid4().hex[:8]}", **body})
        assert resp.status_code == 201, resp.text
        created = [json.loads(r["payload"])["data"] for r in await outbox_rows(accounts.runtime)
                   if r["event_type"] == "kam.account.created.v1" and r["message_key"] == resp.json()["id"]]
        return {**resp.json(), "assignment_rule": created[0]["assignment_rule"]}  # as subscribers see it

    bank = await create(region=region, industry="Banking")
    assert bank["owner_id"] == str(people.peer) and bank["assignment_rule"] == f"territory:{banking.id}"
    other = await create(region=region, industry="mining")
    assert other["owner_id"] == str(people.peer) and other["assignment_rule"] == f"territory:{anything.id}"
    named = await create(region=region, industry="banking", owner_id=str(people.rep))
    assert named["owner_id"] == str(people.rep) and named["assignment_rule"] == "explicit"
    elsewhere = await create(region=f"{region}-x")
    assert elsewhere["owner_id"] == str(people.rep) and elsewhere["assignment_rule"] == "creator"

    # An account manager who has left cannot take new accounts: the creator keeps them.
    await feed(accounts.runtime, territory_event(north.model_copy(update={"owner_id": people.left, "version": 2}),
                                                 created=False))
    orphan = await create(region=region)
    assert orphan["owner_id"] == str(people.rep) and orphan["assignment_rule"] == "creator"

    # The territory changes hands, then is closed: the replica follows, stale events change nothing.
    await feed(accounts.runtime, territory_event(north.model_copy(update={"owner_id": people.manager, "version": 3}),
                                                 created=False))
    assert (await create(region=region))["owner_id"] == str(people.manager)
    await feed(accounts.runtime, territory_event(north.model_copy(update={"active": False, "version": 4}),
                                                 created=False),
               territory_event(north.model_copy(update={"owner_id": people.peer, "version": 3}), created=False))
    closed = await create(region=region)
    assert closed["owner_id"] == str(people.rep) and closed["assignment_rule"] == "creator"
