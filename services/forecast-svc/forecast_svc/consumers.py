"""Event handlers that keep forecast-svc's read models current."""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.consumer import batch_handler
from kam_shared.money import to_cents
from kam_shared.events import CloudEvent
from kam_shared.replicas import upsert_versioned, upsert_versioned_many

from .models import opportunity_facts as facts
from .models import rollup_cells as cells
from .models import fiscal_calendar, stage_probabilities

CELL_KEY = ("owner_id", "month", "currency", "status", "stage")


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

    @property
    def key(self) -> tuple:
        return (self.owner_id, self.month, self.currency, self.status, self.stage)


def contribution(fact) -> Contribution:
    return Contribution(owner_id=fact["owner_id"], month=fact["close_date"].replace(day=1), currency=fact["currency"],
                        status=fact["status"], stage=fact["stage"], amount_cents=fact["amount_cents"],
                        probability=fact["probability"])


def cell_deltas(changes: list[tuple[dict | None, dict]]) -> dict[tuple, list[int]]:
    """Net change per cell for a set of (old fact or None, new fact): pure arithmetic, exact."""
    deltas: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for old, new in changes:
        for fact, sign in ((old, -1), (new, +1)):
            if fact is None:
                continue
            c = contribution(fact)
            d = deltas[c.key]
            d[0] += sign
            d[1] += sign * c.amount_cents
            d[2] += sign * c.amount_cents * c.probability
    return {k: v for k, v in deltas.items() if v != [0, 0, 0]}


async def _bump_cells(session: AsyncSession, deltas: dict[tuple, list[int]]) -> None:
    if not deltas:
        return
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(cells)
    stmt = stmt.on_conflict_do_update(
        index_elements=[cells.c[k] for k in CELL_KEY],
        set_={"count": cells.c.count + stmt.excluded.count,
              "amount_cents": cells.c.amount_cents + stmt.excluded.amount_cents,
              "weighted_cents_x100": cells.c.weighted_cents_x100 + stmt.excluded.weighted_cents_x100})
    rows = [dict(zip(CELL_KEY, key), count=d[0], amount_cents=d[1], weighted_cents_x100=d[2])
            for key, d in sorted(deltas.items(), key=lambda kv: tuple(map(str, kv[0])))]  # fixed order: no deadlocks
    await session.execute(stmt, rows)


async def apply_opportunities(session: AsyncSession, items: list) -> None:
    """created / stage_changed / closed all carry the full state after the change. For a run of
    them: keep the newest state per opportunity, replace the facts that are older, and move the
    contributions between cells by their exact net deltas, all in the caller's transaction."""
    newest: dict[uuid.UUID, object] = {}
    for _, payload in items:
        o = payload.opportunity
        if o.id not in newest or o.version > newest[o.id].version:
            newest[o.id] = o
    probability = await stage_probability_map(session)
    query = select(facts).where(facts.c.id.in_(list(newest)))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    old_rows = {r["id"]: dict(r) for r in (await session.execute(query)).mappings().all()}
    changes = []
    for o in newest.values():
        old = old_rows.get(o.id)
        if old is not None and old["version"] >= o.version:
            continue  # stale or replayed: the fact already reflects something as new or newer
        changes.append((old, dict(id=o.id, account_id=o.account_id, owner_id=o.owner_id,
                                  amount_cents=to_cents(o.amount), currency=o.currency, close_date=o.close_date,
                                  stage=o.stage, status=o.status, version=o.version, confirmed=o.confirmed,
                                  category_override=o.forecast_category,
                                  probability=probability.get(o.stage, o.probability) if o.status == "open"
                                  else o.probability,
                                  updated_at=o.updated_at)))
    if not changes:
        return
    await upsert_versioned_many(session, facts, [new for _, new in changes])
    await _bump_cells(session, cell_deltas(changes))


async def stage_probability_map(session: AsyncSession) -> dict[int, int]:
    return dict((await session.execute(select(stage_probabilities.c.stage, stage_probabilities.c.probability))).all())


async def apply_stage_model(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Re-weight open pipeline in every stage whose probability changed: the facts and, exactly,
    their cells (every open fact in a stage carries that stage's probability)."""
    current = await session.scalar(select(func.max(stage_probabilities.c.version)))
    if current is not None and payload.version <= current:
        return
    before = await stage_probability_map(session)
    for stage in payload.stages:
        if stage.number > 7:
            continue
        if before.get(stage.number) != stage.probability:
            await session.execute(update(facts).where(facts.c.status == "open", facts.c.stage == stage.number)
                                  .values(probability=stage.probability))
            await session.execute(update(cells).where(cells.c.status == "open", cells.c.stage == stage.number)
                                  .values(weighted_cents_x100=cells.c.amount_cents * stage.probability))
        await upsert_versioned(session, stage_probabilities, dict(stage=stage.number, probability=stage.probability,
                                                                  version=payload.version), key="stage")


async def apply_fiscal_calendar(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Fiscal periods are month ranges over the monthly cells: nothing to recompute, only the start."""
    calendar = payload.calendar
    await upsert_versioned(session, fiscal_calendar, dict(id=1, fiscal_year_start_month=calendar.fiscal_year_start_month,
                                                          version=calendar.version), key="id")


apply_opportunity = batch_handler(apply_opportunities)

# Every per-opportunity event carries the full state after the change: one handler for all.
HANDLERS = {f"kam.opportunity.{kind}.v1": apply_opportunity for kind in (
    "created", "stage_changed", "closed", "reopened", "updated", "owner_changed", "confirmation_changed",
    "assessment_recorded", "tender_updated", "team_changed")}
HANDLERS["kam.opportunity.stage_model_changed.v1"] = apply_stage_model
HANDLERS["kam.team.fiscal_calendar_changed.v1"] = apply_fiscal_calendar
