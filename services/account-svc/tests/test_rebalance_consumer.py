"""team-svc's territory rebalancing (kam.team.territories_rebalanced.v1) reassigns each moved
account to its new territory's account manager, through account-svc's own consumer path: the
owner history names the territory, account.reassigned is published, the audit trail names the actor."""
import json
import uuid

from kam_shared.events import DomainEvent
from kam_shared.events.territory_plan import TerritoriesRebalanced, TerritoryMove
from kam_shared.testing import bearer, feed, outbox_rows


async def test_a_rebalance_reassigns_the_moved_accounts(accounts, people):
    made = []
    for _ in range(2):
        resp = await accounts.post("/v1/accounts", headers=bearer(people.rep),
                                   json={"name": f"Moved {uuid.uuid4().hex}", "owner_id": str(people.rep)})
        assert resp.status_code == 201, resp.text
        made.append(resp.json())
    territory, rebalance_id, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    moves = [TerritoryMove(account_id=a["id"], from_territory_id=None, to_territory_id=territory,
                           to_owner_id=people.peer) for a in made]
    moves.append(TerritoryMove(account_id=unknown, from_territory_id=None, to_territory_id=territory,
                               to_owner_id=people.peer))
    event = DomainEvent("kam.team.territories_rebalanced.v1", rebalance_id, 1, TerritoriesRebalanced(
        id=rebalance_id, moves=moves, reason="even out", changed_by=people.manager)).to_cloudevent("/kam/team-svc")
    before = len(await outbox_rows(accounts.runtime))
    await feed(accounts.runtime, event, event)  # a redelivery changes nothing (inbox)

    for account in made:
        got = (await accounts.get(f"/v1/accounts/{account['id']}", headers=bearer(people.peer))).json()
        assert got["owner_id"] == str(people.peer) and got["version"] == 2
        history = (await accounts.get(f"/v1/accounts/{account['id']}/owner-history", headers=bearer(people.peer)))
        last = history.json()[-1]
        assert (last["rule"], last["from_owner_id"], last["to_owner_id"]) == (
            f"territory:{territory}", str(people.rep), str(people.peer))
        assert last["changed_by"] == str(people.manager) and "even out" in last["reason"]
        trail = (await accounts.get(f"/v1/accounts/{account['id']}/history", headers=bearer(people.peer))).json()
        assert trail["items"][-1]["actor_id"] == str(people.manager)
        assert {"field": "owner_id", "from": str(people.rep), "to": str(people.peer)} in trail["items"][-1]["changes"]
    rows = (await outbox_rows(accounts.runtime))[before:]
    assert sorted(r["message_key"] for r in rows) == sorted(a["id"] for a in made)
    assert all(r["event_type"] == "kam.account.reassigned.v1" for r in rows)
    assert {json.loads(r["payload"])["actor"] for r in rows} == {str(people.manager)}
