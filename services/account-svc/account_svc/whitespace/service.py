"""Use case of whitespace: GET /v1/accounts/{id}/whitespace, from what the replica consumer keeps
(the families of won/open opportunities, the comparable-accounts figures): lookups, no aggregation
over other accounts at read."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events import utcnow
from kam_shared.money import from_cents

from ..accounts.repository import AccountRepository
from ..accounts.service import visible_account
from . import domain
from .repository import WhitespaceRepository


def _unit(row, owners: set | None) -> domain.Unit:
    return domain.Unit(id=row["id"], parent_id=row["parent_id"], name=row["name"], industry=row["industry"],
                       tier=row["tier"], restricted=owners is not None and row["owner_id"] not in owners)


def _money(rows: list[dict]) -> list[dict]:
    """Cents to amounts, once per comparable (cells of one industry, tier and family share it)."""
    done: set[int] = set()
    for row in rows:
        for c in row["cells"]:
            comparable = c["comparable"]
            if comparable is None or id(comparable) in done:
                continue
            done.add(id(comparable))
            for e in comparable["estimates"]:
                e["amount"] = from_cents(e.pop("amount_cents"))
    return rows


async def whitespace(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    await visible_account(session, runtime, principal, account_id)  # 404 outside the caller's scope
    repo = WhitespaceRepository(session)
    owners = await runtime.visibility.owner_ids(session, principal)
    units = [_unit(r, owners) for r in await AccountRepository(session).subtree(account_id)]
    seen = [u for u in units if not u.restricted]
    holdings = await repo.holdings(u.id for u in seen)
    families = (await repo.sold_families()) | {f for _, f in holdings}
    segments = {(u.industry, u.tier) for u in seen if u.industry and u.tier}
    counts = await repo.comparable_counts(segments)
    figures = await repo.figures(segments)
    comparables = {s: domain.Comparables(counts.get(s, 0), figures.get(s, {})) for s in segments}
    rows = domain.whitespace(account_id, units, families, holdings, comparables)
    return dict(account_id=account_id, families=sorted(families), units=_money(rows), as_of=utcnow())
