"""Event handlers that keep forecast-svc's read models current."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CloudEvent
from kam_shared.money import to_cents
from kam_shared.replicas import upsert_versioned

from .models import opportunity_facts as facts
from .models import rollup_cells as cells


@dataclass(frozen=True)
class Contribution:
    """What one opportunity adds to one roll-up cell."""
    owner_id: uuid.UUID
    month: dt.date
    currency: str
    status: str
    stage: int
    amount_cents: int
    probability: int

    def key(self) -> dict:
        return dict(owner_id=self.owner_id, month=self.month, currency=self.currency, status=self.status,
                    stage=self.stage)


async def _bump(session: AsyncSession, c: Contribution, sign: int) -> None:
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(cells).values(**c.key(), count=sign, amount_cents=sign * c.amount_cents,
                                        weighted_cents_x100=sign * c.amount_cents * c.probability)
    stmt = stmt.on_conflict_do_update(
        index_elements=[cells.c.owner_id, cells.c.month, cells.c.currency, cells.c.status, cells.c.stage],
        set_={"count": cells.c.count + stmt.excluded.count,
              "amount_cents": cells.c.amount_cents + stmt.excluded.amount_cents,
              "weighted_cents_x100": cells.c.weighted_cents_x100 + stmt.excluded.weighted_cents_x100})
    await session.execute(stmt)


async def apply_opportunity(session: AsyncSession, event: CloudEvent, payload) -> None:
    """created / stage_changed / closed all carry the full state after the change: replace the fact
    and move its contribution between cells, exactly, in the same transaction."""
    o = payload.opportunity
    query = select(facts).where(facts.c.id == o.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    old = (await session.execute(query)).mappings().first()
    new = dict(id=o.id, account_id=o.account_id, owner_id=o.owner_id, amount_cents=to_cents(o.amount),
               currency=o.currency, close_date=o.close_date, stage=o.stage, probability=o.probability,
               status=o.status, version=o.version, updated_at=o.updated_at)
    if not await upsert_versioned(session, facts, new):
        return  # stale or replayed: the fact (and so the cells) already reflect something newer
    if old is not None:
        await _bump(session, contribution(old), -1)
    await _bump(session, contribution(new), +1)


def contribution(fact) -> Contribution:
    return Contribution(owner_id=fact["owner_id"], month=fact["close_date"].replace(day=1), currency=fact["currency"],
                        status=fact["status"], stage=fact["stage"], amount_cents=fact["amount_cents"],
                        probability=fact["probability"])


HANDLERS = {
    "kam.opportunity.created.v1": apply_opportunity,
    "kam.opportunity.stage_changed.v1": apply_opportunity,
    "kam.opportunity.closed.v1": apply_opportunity,
}
