"""The capacity view (重新定位销售力量): accounts and open pipeline per territory and per person,
from the account and opportunity replicas, so sales ops can see where to rebalance. A non-admin sees
the territories and people they may see, counting only accounts and opportunities owned by themselves
or people below them (an admin: everything, and the unassigned accounts)."""
from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events.team import AccountProfile, TerritoryRuleBook, normalise_label, size_band_for

from ..common.hierarchy import visible_user_ids
from ..territories.service import rule_book
from ..territory_plans.repository import TerritoryPlans
from .domain import cell, rolled, shape, tally
from .repository import CapacityFacts


def _profile_key(row) -> tuple:
    return normalise_label(row["region"]), normalise_label(row["industry"]), size_band_for(row["employees"])


def _territory_of(book: TerritoryRuleBook, accounts) -> dict[uuid.UUID, uuid.UUID | None]:
    """Each account's territory. Accounts named in a rule are matched one by one; all others only by
    profile, so each distinct (region, industry, size band) is matched once however many accounts share it."""
    named = {a for c in book.rules for a in c.account_ids}
    by_profile: dict[tuple, object] = {}
    territory_of: dict[uuid.UUID, uuid.UUID | None] = {}
    for account in accounts:
        if account["id"] in named:
            found = book.match(AccountProfile(account_id=account["id"], region=account["region"],
                                              industry=account["industry"], employees=account["employees"]))
        else:
            key = _profile_key(account)
            if key not in by_profile:
                by_profile[key] = book.match(AccountProfile(region=key[0], industry=key[1], size_band=key[2]))
            found = by_profile[key]
        territory_of[account["id"]] = found.territory.id if found else None
    return territory_of


def _territories_out(rows, per_territory: dict, visible: set | None) -> list[dict]:
    children: dict[uuid.UUID, list] = defaultdict(list)
    for row in rows:
        children[row["parent_id"]].append(row["id"])
    return [{"territory_id": r["id"], "name": r["name"], "parent_id": r["parent_id"],
             "owner_id": r["owner_id"], "active": r["active"], **shape(per_territory.get(r["id"], cell())),
             "including_sub_territories": shape(rolled(per_territory, children, r["id"]))}
            for r in rows if visible is None or r["owner_id"] in visible]


async def _people_out(repo: CapacityFacts, rows, per_person: dict, visible: set | None) -> list[dict]:
    owned = defaultdict(int)
    for row in rows:
        if row["active"]:
            owned[row["owner_id"]] += 1
    people_ids = [p for p in set(per_person) | set(owned) if p is not None and (visible is None or p in visible)]
    names = await repo.names(people_ids)
    return sorted(({"user_id": p, "name": names.get(p), "territories_owned": owned.get(p, 0),
                    **shape(per_person.get(p, cell()))} for p in people_ids),
                  key=lambda x: (-x["accounts"], str(x["user_id"])))


async def territory_of_accounts(runtime: Runtime, session: AsyncSession) -> tuple[list, dict]:
    """Every live account and its territory: where a rebalance placed it, else where the rules put it."""
    accounts = await CapacityFacts(session).live_accounts()
    territory_of = _territory_of((await rule_book(runtime, session)).book, accounts)
    placed = await TerritoryPlans(session).placements()
    territory_of.update((a, t) for a, t in placed.items() if a in territory_of)
    return accounts, territory_of


async def capacity(runtime: Runtime, session: AsyncSession, principal: Principal, currency: str) -> dict:
    repo = CapacityFacts(session)
    visible = await visible_user_ids(session, principal)
    # Only what the caller may see is counted: accounts they (or people below them) own and opportunities
    # owned likewise; a territory they own never shows another team's accounts or pipeline.
    every_account, territory_of = await territory_of_accounts(runtime, session)
    accounts = [a for a in every_account if visible is None or a["owner_id"] in visible]
    pipeline = [p for p in await repo.open_pipeline(currency) if visible is None or p[1] in visible]
    per_territory, per_person = tally(accounts, pipeline, territory_of)
    rows = await repo.territories()
    territory_out = _territories_out(rows, per_territory, visible)
    people_out = await _people_out(repo, rows, per_person, visible)
    return {"currency": currency, "territories": territory_out, "people": people_out,
            "unassigned": shape(per_territory.get(None, cell())) if visible is None else None,
            "as_of": await repo.last_event_time(runtime.settings.service_name)}
