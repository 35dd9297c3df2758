"""Event handlers that keep forecast-svc's read models current."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.consumer import batch_handler, hold_read_model_exclusively
from kam_shared.events import CloudEvent, UserCreated, UserUpdated
from kam_shared.money import to_cents
from kam_shared.replicas import upsert_versioned, upsert_versioned_many

from .cells import (ChainCache, bump, cell_deltas, chain_above, chains_of, has_loop, hierarchy_changed, recompute,
                    shift)
from .models import fiscal_calendar, hierarchy_version, plumbing, stage_probabilities
from .models import opportunity_facts as facts
from .models import rollup_cells as cells

users = plumbing.user_replica
chain_cache = ChainCache()  # per process: one consumer per instance

async def apply_opportunities(session: AsyncSession, items: list) -> None:
    """Every opportunity event carries the full state after the change. For a run of them: keep
    the newest state per opportunity, replace the facts that are older, and move the contributions
    between the cells of each owner's chain by their exact net deltas, in the caller's transaction."""
    newest: dict[uuid.UUID, object] = {}
    for _, payload in items:
        o = payload.opportunity
        if o.id not in newest or o.version > newest[o.id].version:
            newest[o.id] = o
    # The stage model and the hierarchy's version in one read (the chains are cached by version).
    hierarchy_now = select(hierarchy_version.c.version).where(hierarchy_version.c.id == 1).scalar_subquery()
    model = (await session.execute(select(stage_probabilities.c.stage, stage_probabilities.c.probability,
                                          hierarchy_now.label("hierarchy")))).all()
    probability = {r.stage: r.probability for r in model}
    hierarchy = model[0].hierarchy if model else None
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
    owners = {f["owner_id"] for change in changes for f in change if f is not None}
    await bump(session, cell_deltas(changes, await chains_of(session, users, owners, chain_cache, hierarchy)))


def _user_row(state) -> dict:
    return dict(id=state.id, email=state.email, name=state.name, role=state.role, superior_id=state.superior_id,
                active=state.active, version=state.version)


async def apply_users(session: AsyncSession, items: list[tuple[CloudEvent, UserCreated | UserUpdated]]) -> None:
    """The user replica, plus: when a user with a non-empty subtree gets a new superior, their
    subtree's totals (their own cells) move from the old chain of ancestors to the new one.

    Under the exclusive read-model lock, so no opportunity change is being applied against the
    old chain meanwhile. Users with nothing in their subtree (new users, typically) are upserted
    in bulk: changing their superior moves no totals. Movers are then shifted one by one, each
    against the replica as it stands, which keeps every node's cells equal to its subtree's sum.
    """
    await hold_read_model_exclusively(session)
    newest: dict[uuid.UUID, object] = {}
    for _, payload in items:
        u = payload.user
        if u.id not in newest or u.version > newest[u.id].version:
            newest[u.id] = u
    before = {r.id: r for r in (await session.execute(
        select(users.c.id, users.c.superior_id, users.c.version).where(users.c.id.in_(list(newest))))).all()}
    fresh = [u for u in newest.values() if u.id not in before or before[u.id].version < u.version]
    if not fresh:
        return
    await hierarchy_changed(session)

    def old_superior(user_id):
        return before[user_id].superior_id if user_id in before else None

    moved = [u.id for u in fresh if old_superior(u.id) != u.superior_id]
    if moved:
        superior_of = dict((await session.execute(select(users.c.id, users.c.superior_id))).all())
        after = {**superior_of, **{u.id: u.superior_id for u in fresh}}
        if has_loop(superior_of, moved) or has_loop(after, moved):
            # Two people's moves arrived out of order (their events travel on different
            # partitions) and inverted an ancestry for a moment: A under B while B is still
            # under A. Shifting totals along a loop cannot stay exact; apply the replica and
            # recompute every cell (rare, and this transaction holds the lock exclusively).
            await upsert_versioned_many(session, users, [_user_row(u) for u in fresh])
            await session.execute(delete(cells))
            await recompute(session, users)
            return
    with_totals = set((await session.scalars(select(cells.c.node_id).distinct().where(
        cells.c.node_id.in_(moved)))).all()) if moved else set()
    quiet = [_user_row(u) for u in fresh if u.id not in with_totals]
    if quiet:
        await upsert_versioned_many(session, users, quiet)
    for u in fresh:
        if u.id in with_totals:
            out_of = await chain_above(session, users, old_superior(u.id), stop_at=u.id)
            await upsert_versioned(session, users, _user_row(u))
            await shift(session, u.id, out_of=out_of,
                        into=await chain_above(session, users, u.superior_id, stop_at=u.id))


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
HANDLERS["kam.team.user_created.v1"] = HANDLERS["kam.team.user_updated.v1"] = batch_handler(apply_users)
