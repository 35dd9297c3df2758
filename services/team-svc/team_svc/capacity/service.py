"""The capacity view (重新定位销售力量): accounts and open pipeline per territory and per person,
from the account and opportunity replicas, so sales ops can see where to rebalance."""
from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events.team import AccountProfile, normalise_label, size_band_for
from kam_shared.money import from_cents

from ..common.hierarchy import visible_user_ids
from ..common.models import read_model_status_table
from ..replicas.models import account_facts, opportunity_facts
from ..territories.models import territories
from ..territories.service import rule_book
from ..users.models import users


def _profile_key(row) -> tuple:
    return normalise_label(row["region"]), normalise_label(row["industry"]), size_band_for(row["employees"])


async def capacity(runtime: Runtime, session: AsyncSession, principal: Principal, currency: str) -> dict:
    cached = await rule_book(runtime, session)
    named = {a for c in cached.book.rules for a in c.account_ids}
    accounts = (await session.execute(select(account_facts.c.id, account_facts.c.owner_id, account_facts.c.region,
                                             account_facts.c.industry, account_facts.c.employees)
                                      .where(account_facts.c.merged_into.is_(None)))).mappings().all()
    # Accounts named in a rule are matched one by one; all others only by profile, so each distinct
    # (region, industry, size band) is matched once however many accounts share it.
    by_profile: dict[tuple, object] = {}
    territory_of: dict[uuid.UUID, uuid.UUID | None] = {}
    for account in accounts:
        if account["id"] in named:
            found = cached.book.match(AccountProfile(account_id=account["id"], region=account["region"],
                                                     industry=account["industry"], employees=account["employees"]))
        else:
            key = _profile_key(account)
            if key not in by_profile:
                by_profile[key] = cached.book.match(AccountProfile(region=key[0], industry=key[1], size_band=key[2]))
            found = by_profile[key]
        territory_of[account["id"]] = found.territory.id if found else None

    pipeline = (await session.execute(
        select(opportunity_facts.c.account_id, opportunity_facts.c.owner_id, func.count(),
               func.sum(opportunity_facts.c.amount_cents),
               func.sum(opportunity_facts.c.amount_cents * opportunity_facts.c.probability))
        .where(opportunity_facts.c.status == "open", opportunity_facts.c.currency == currency)
        .group_by(opportunity_facts.c.account_id, opportunity_facts.c.owner_id))).all()

    def cell():
        return {"accounts": 0, "open_count": 0, "open_cents": 0, "weighted_x100": 0}

    per_territory: dict[uuid.UUID | None, dict] = defaultdict(cell)
    per_person: dict[uuid.UUID | None, dict] = defaultdict(cell)
    for account in accounts:
        per_territory[territory_of[account["id"]]]["accounts"] += 1
        per_person[account["owner_id"]]["accounts"] += 1
    for account_id, owner_id, count, cents, weighted in pipeline:
        for bucket in (per_territory[territory_of.get(account_id)], per_person[owner_id]):
            bucket["open_count"] += count
            bucket["open_cents"] += int(cents or 0)
            bucket["weighted_x100"] += int(weighted or 0)

    visible = await visible_user_ids(session, principal)
    rows = (await session.execute(select(territories.c.id, territories.c.name, territories.c.parent_id,
                                         territories.c.owner_id, territories.c.active)
                                  .order_by(territories.c.path))).mappings().all()
    children: dict[uuid.UUID, list] = defaultdict(list)
    for row in rows:
        children[row["parent_id"]].append(row["id"])

    def rolled(tid) -> dict:
        total = dict(per_territory.get(tid, cell()))
        for child in children.get(tid, []):
            sub = rolled(child)
            for k in total:
                total[k] += sub[k]
        return total

    def shape(c: dict) -> dict:
        return {"accounts": c["accounts"], "open_count": c["open_count"],
                "open_pipeline_amount": from_cents(c["open_cents"]),
                "weighted_pipeline_amount": (Decimal(c["weighted_x100"]) / 10000).quantize(Decimal("0.01"))}

    owned = defaultdict(int)
    for row in rows:
        if row["active"]:
            owned[row["owner_id"]] += 1
    territory_out = [{"territory_id": r["id"], "name": r["name"], "parent_id": r["parent_id"],
                      "owner_id": r["owner_id"], "active": r["active"], **shape(per_territory.get(r["id"], cell())),
                      "including_sub_territories": shape(rolled(r["id"]))}
                     for r in rows if visible is None or r["owner_id"] in visible]
    people_ids = [p for p in set(per_person) | set(owned) if p is not None and (visible is None or p in visible)]
    names = dict((await session.execute(select(users.c.id, users.c.name).where(users.c.id.in_(people_ids))))
                 .all()) if people_ids else {}
    people_out = sorted(({"user_id": p, "name": names.get(p), "territories_owned": owned.get(p, 0),
                          **shape(per_person.get(p, cell()))} for p in people_ids),
                        key=lambda x: (-x["accounts"], str(x["user_id"])))
    status = (await session.execute(select(read_model_status_table.c.last_event_time)
                                    .where(read_model_status_table.c.name == runtime.settings.service_name))).first()
    return {"currency": currency, "territories": territory_out, "people": people_out,
            "unassigned": shape(per_territory.get(None, cell())) if visible is None else None,
            "as_of": status.last_event_time if status else None}
