"""An account's team (kam.account.team_changed.v1, replicated) sees the account's opportunities: direct
reads and the pipeline list, read only; taken off the team, they do not. Stale team events are ignored."""
import datetime as dt

from kam_shared.events import AccountState, AccountTeamChanged, DomainEvent
from kam_shared.events.account import AccountTeamMember
from kam_shared.testing import bearer, feed


def team_event(account_id, owner, version, members):
    now = dt.datetime.now(dt.timezone.utc)
    return DomainEvent("kam.account.team_changed.v1", account_id, version, AccountTeamChanged(
        account=AccountState(id=account_id, name="Bank of Tests", owner_id=owner, version=version),
        members=[AccountTeamMember(user_id=u, role=r, added_at=now) for u, r in members])
    ).to_cloudevent("/kam/account-svc")


def assert_problem(resp, status: int, mentions: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"], resp.json()


async def visible_ids(world, who) -> set[str]:
    page = (await world.client.get("/v1/opportunities?limit=1000", headers=bearer(who))).json()
    return {o["id"] for o in page["items"]}


async def test_account_team_members_see_the_accounts_opportunities_until_removed(world):
    boss = await world.user("manager")
    owner = await world.user("rep", boss)
    outsider = await world.user("rep")  # another part of the organisation
    account = await world.account(owner)
    opp = await world.opportunity(owner, account)
    url = f"/v1/opportunities/{opp['id']}"
    assert_problem(await world.client.get(url, headers=bearer(outsider)), 404, "not found")

    await feed(world.runtime, team_event(account, owner, 2, [(outsider, "technical")]))
    assert (await world.client.get(url, headers=bearer(outsider))).status_code == 200
    assert opp["id"] in await visible_ids(world, outsider)
    assert_problem(await world.client.patch(url, headers=bearer(outsider), json={"name": "mine now"}), 403,
                   "sales team")

    # A stale (older) team event changes nothing; the newer one without them removes their access.
    await feed(world.runtime, team_event(account, owner, 3, []))
    await feed(world.runtime, team_event(account, owner, 2, [(outsider, "technical")]))
    assert_problem(await world.client.get(url, headers=bearer(outsider)), 404, "not found")
    assert opp["id"] not in await visible_ids(world, outsider)
