"""kam.account.merged.v1 from account-svc: opportunities and the account replica follow the survivor."""
import json
import uuid

from kam_shared.events import AccountMerged, AccountState, DomainEvent
from kam_shared.testing import bearer, feed
from opportunity_svc.accounts.models import account_replica


def merged_event(survivor, merged, owner, version=3, merged_version=2):
    return DomainEvent("kam.account.merged.v1", survivor, version, AccountMerged(
        survivor_id=survivor, merged_id=merged, merged_version=merged_version,
        account=AccountState(id=survivor, name="Bank of Tests (merged)", owner_id=owner, version=version)),
    ).to_cloudevent("/kam/account-svc")


async def test_merge_repoints_every_opportunity_once_with_an_event_each(world, problem):
    rep = await world.user()
    survivor, merged = await world.account(rep), await world.account(rep)
    open_one = await world.opportunity(rep, merged)
    closed_one = await world.opportunity(rep, merged)
    await world.client.post(f"/v1/opportunities/{closed_one['id']}/close", headers=bearer(rep),
                            json={"outcome": "lost", "reason": "no_decision"})
    elsewhere = await world.opportunity(rep, survivor)
    before = len(await world.outbox())

    event = merged_event(survivor, merged, rep)
    await feed(world.runtime, event)
    rows = (await world.outbox())[before:]
    assert sorted(r["message_key"] for r in rows) == sorted([open_one["id"], closed_one["id"]])
    for row in rows:
        data = json.loads(row["payload"])
        assert data["type"] == "kam.opportunity.updated.v1" and data["source"] == "/kam/opportunity-svc"
        assert data["data"]["changes"] == {"account_id": {"from": str(merged), "to": str(survivor)}}
        assert data["data"]["opportunity"]["account_id"] == str(survivor) and str(merged) in data["data"]["cause"]
    for opp, version in ((open_one, 2), (closed_one, 3)):
        got = (await world.client.get(f"/v1/opportunities/{opp['id']}", headers=bearer(rep))).json()
        assert (got["account_id"], got["version"]) == (str(survivor), version)
    assert (await world.client.get(f"/v1/opportunities/{elsewhere['id']}", headers=bearer(rep))).json()["version"] == 1

    # Redelivered (same id) or replayed (new id): nothing moves twice, nothing is published twice.
    await feed(world.runtime, event, merged_event(survivor, merged, rep))
    assert len(await world.outbox()) == before + 2

    # The merged account is a tombstone now: a new opportunity on it names the survivor.
    marker = await world.unchanged(account_replica)
    body = problem(await world.client.post("/v1/opportunities", headers=bearer(rep),
                                           json=world.body(merged, rep)), 422, "merged into")
    assert body["survivor_id"] == str(survivor)
    await world.assert_unchanged(marker, account_replica)
    ok = await world.client.post("/v1/opportunities", headers=bearer(rep), json=world.body(survivor, rep))
    assert ok.status_code == 201


async def test_merge_of_an_account_never_seen_still_leaves_a_tombstone(world, problem):
    rep = await world.user()
    survivor, merged = uuid.uuid4(), uuid.uuid4()
    await feed(world.runtime, merged_event(survivor, merged, rep))
    problem(await world.client.post("/v1/opportunities", headers=bearer(rep), json=world.body(merged, rep)),
            422, str(survivor))
    assert (await world.client.post("/v1/opportunities", headers=bearer(rep),
                                    json=world.body(survivor, rep))).status_code == 201
