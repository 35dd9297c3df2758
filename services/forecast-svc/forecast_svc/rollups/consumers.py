"""Event handlers that keep the roll-up slice's read models current: the opportunity facts and
their cells, the user replica (hierarchy moves shift cells), the stage model (re-weighting)."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.consumer import batch_handler, hold_read_model_exclusively
from kam_shared.events import CloudEvent, UserCreated, UserUpdated
from kam_shared.events.account import AccountState
from kam_shared.events.base import TOPICS
from kam_shared.events.team import OrgUnitState, TerritoryState
from kam_shared.readmodel import ReadModel

from ..common.models import plumbing
from .domain.cells import cell_deltas, has_loop, newest_states, parent_chain
from .domain.history import history_rows, states_by_id
from .domain.rows import (
    covering_territory,
    fact_row,
    org_unit_row,
    profile_row,
    rule_book,
    territory_row,
    user_org_row,
    user_row,
)
from .models import account_profiles, org_unit_replica, territory_replica, user_org_units
from .repository import ChainCache, RollupRepository

users = plumbing.user_replica
chain_cache = ChainCache()  # per process: one consumer per instance


async def apply_opportunities(session: AsyncSession, items: list) -> None:
    """Every opportunity event carries the full state after the change. For a run of them: keep
    the newest state per opportunity, replace the facts that are older, and move the contributions
    between the cells of each owner's chain by their exact net deltas, in the caller's transaction.
    Every state of the run newer than the fact is appended to the state history in the same
    transaction, valid from its event's time."""
    repo = RollupRepository(session)
    newest = newest_states(payload.opportunity for _, payload in items)
    # The stage model and the hierarchy's version in one read (the chains are cached by version).
    probability, hierarchy = await repo.stage_model_and_hierarchy()
    old_rows = await repo.facts_for_update(list(newest))
    changes = []
    for o in newest.values():
        old = old_rows.get(o.id)
        if old is not None and old["version"] >= o.version:
            continue  # stale or replayed: the fact already reflects something as new or newer
        changes.append((old, fact_row(o, probability)))
    if not changes:
        return
    runs = states_by_id((event.time, payload.opportunity) for event, payload in items)
    history = []
    for old, new in changes:
        rows = history_rows(old, [(time, fact_row(state, probability)) for time, state in runs[new["id"]]])
        history += rows
        # The fact is the run's last state (its newest version is in it): dated as the history holds it.
        new["state_valid_from"] = rows[-1]["valid_from"]
        new["created_valid_from"] = old["created_valid_from"] if old is not None else rows[0]["valid_from"]
    await repo.save_facts([new for _, new in changes])
    await repo.append_history(history)
    owners = {f["owner_id"] for change in changes for f in change if f is not None}
    chains = await repo.chains_of(users, owners, chain_cache, hierarchy)
    accounts = {f["account_id"] for change in changes for f in change if f is not None}
    await repo.bump(cell_deltas(changes, chains, await repo.territory_chains(accounts, chain_cache)))


async def _apply_user_units(repo: RollupRepository, newest: dict) -> None:
    """Each user's org unit: a user who changes unit takes their own opportunities (not their
    reports': those follow their own units) out of the old unit's chain and into the new one's."""
    before = await repo.rows_before(user_org_units, list(newest), parent="org_unit_id")
    fresh = [u for u in newest.values() if u.id not in before or before[u.id].version < u.version]
    if not fresh:
        return
    old_unit = {u: r.org_unit_id for u, r in before.items()}
    moved = [u for u in fresh if old_unit.get(u.id) != u.org_unit_id]
    await repo.save_rows(user_org_units, [user_org_row(u) for u in fresh])
    if not moved:
        return
    await repo.hierarchy_changed()
    with_facts = await repo.owners_with_facts([u.id for u in moved])
    if not with_facts:
        return
    unit_parent = await repo.parent_map(org_unit_replica)
    for u in moved:
        if u.id in with_facts:
            await repo.shift_owner_facts(u.id, parent_chain(unit_parent, old_unit.get(u.id)),
                                         parent_chain(unit_parent, u.org_unit_id))


def _old_superior(before: dict, user_id: uuid.UUID) -> uuid.UUID | None:
    return before[user_id].superior_id if user_id in before else None


def _fresh(newest: dict, before: dict) -> list:
    """The states newer than the replica's rows (or of users it does not hold yet)."""
    return [u for u in newest.values() if u.id not in before or before[u.id].version < u.version]


async def _moves_loop(repo: RollupRepository, fresh: list, moved: list[uuid.UUID]) -> bool:
    """Would applying these moves (or did the replica before them) put an ancestry in a loop?"""
    superior_of = await repo.superior_map(users)
    after = {**superior_of, **{u.id: u.superior_id for u in fresh}}
    return has_loop(superior_of, moved) or has_loop(after, moved)


async def _apply_and_recompute(repo: RollupRepository, fresh: list) -> None:
    """Apply the replica and recompute every cell from the facts (exact whatever the moves were)."""
    await repo.save_users(users, [user_row(u) for u in fresh])
    await repo.clear_cells()
    await repo.recompute(users)


async def _apply_moves(repo: RollupRepository, fresh: list, before: dict, moved: list[uuid.UUID]) -> None:
    """Users without totals in bulk (moving them moves nothing); then each mover with totals, one by
    one against the replica as it stands: out of the old chain of ancestors, the replica row, into
    the new chain."""
    with_totals = await repo.nodes_with_totals(moved)
    quiet = [user_row(u) for u in fresh if u.id not in with_totals]
    if quiet:
        await repo.save_users(users, quiet)
    for u in fresh:
        if u.id in with_totals:
            out_of = await repo.chain_above(users, _old_superior(before, u.id), stop_at=u.id)
            await repo.save_user(users, user_row(u))
            await repo.shift(u.id, out_of=out_of, into=await repo.chain_above(users, u.superior_id, stop_at=u.id))


async def apply_users(session: AsyncSession, items: list[tuple[CloudEvent, UserCreated | UserUpdated]]) -> None:
    """The user replica, plus: when a user with a non-empty subtree gets a new superior, their
    subtree's totals (their own cells) move from the old chain of ancestors to the new one.

    Under the exclusive read-model lock, so no opportunity change is being applied against the
    old chain meanwhile. Users with nothing in their subtree (new users, typically) are upserted
    in bulk: changing their superior moves no totals. Movers are then shifted one by one, each
    against the replica as it stands, which keeps every node's cells equal to its subtree's sum.
    """
    await hold_read_model_exclusively(session)
    repo = RollupRepository(session)
    newest = newest_states(payload.user for _, payload in items)
    await _apply_user_units(repo, newest)
    before = await repo.users_before(users, list(newest))
    fresh = _fresh(newest, before)
    if not fresh:
        return
    await repo.hierarchy_changed()
    moved = [u.id for u in fresh if _old_superior(before, u.id) != u.superior_id]
    if moved and await _moves_loop(repo, fresh, moved):
        # Two people's moves arrived out of order (their events travel on different
        # partitions) and inverted an ancestry for a moment: A under B while B is still
        # under A. Shifting totals along a loop cannot stay exact; apply the replica and
        # recompute every cell (rare, and this transaction holds the lock exclusively).
        await _apply_and_recompute(repo, fresh)
        return
    await _apply_moves(repo, fresh, before, moved)


async def apply_stage_model(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Re-weight open pipeline in every stage whose probability changed: the facts and, exactly,
    their cells (every open fact in a stage carries that stage's probability)."""
    repo = RollupRepository(session)
    current = await repo.stage_model_version()
    if current is not None and payload.version <= current:
        return
    before = await repo.stage_probability_map()
    for stage in payload.stages:
        if stage.number > 7:
            continue
        if before.get(stage.number) != stage.probability:
            await repo.reweight_stage(stage.number, stage.probability, event.time)
        await repo.save_stage_probability(stage.number, stage.probability, payload.version)


async def apply_org_units(session: AsyncSession, items: list) -> None:
    """The org-unit replica; a unit that gets a new parent takes its cells (its whole subtree's
    totals) from the old chain of units above it to the new one, as a user's move does."""
    await hold_read_model_exclusively(session)
    repo = RollupRepository(session)
    newest = newest_states(payload.org_unit for _, payload in items)
    before = await repo.rows_before(org_unit_replica, list(newest))
    fresh = [u for u in newest.values() if u.id not in before or before[u.id].version < u.version]
    if not fresh:
        return
    await repo.hierarchy_changed()
    old_parent = {u: r.parent_id for u, r in before.items()}
    moved = [u.id for u in fresh if old_parent.get(u.id) != u.parent_id]
    parents = await repo.parent_map(org_unit_replica)
    if moved and (has_loop(parents, moved) or has_loop({**parents, **{u.id: u.parent_id for u in fresh}}, moved)):
        await repo.save_rows(org_unit_replica, [ORG_UNITS.to_row(u) for u in fresh])
        await repo.clear_cells()
        await repo.recompute(users)
        return
    with_totals = await repo.nodes_with_totals(moved)
    await repo.save_rows(org_unit_replica, [ORG_UNITS.to_row(u) for u in fresh if u.id not in with_totals])
    for u in fresh:
        if u.id in with_totals:
            out_of = await repo.chain_above(org_unit_replica, old_parent.get(u.id), stop_at=u.id, parent="parent_id")
            await repo.save_rows(org_unit_replica, [ORG_UNITS.to_row(u)])
            into = await repo.chain_above(org_unit_replica, u.parent_id, stop_at=u.id, parent="parent_id")
            await repo.shift(u.id, out_of=out_of, into=into)


async def apply_territories(session: AsyncSession, items: list) -> None:
    """The territory replica. A territory change (rules, parent, active) can move any account: the
    coverage is matched again for every account and the territories' cells recomputed (rare)."""
    await hold_read_model_exclusively(session)
    repo = RollupRepository(session)
    newest = newest_states(payload.territory for _, payload in items)
    before = await repo.rows_before(territory_replica, list(newest))
    fresh = [t for t in newest.values() if t.id not in before or before[t.id].version < t.version]
    if not fresh:
        return
    await repo.hierarchy_changed()
    await repo.save_rows(territory_replica, [TERRITORIES.to_row(t) for t in fresh])
    await repo.rematch_coverage(account_profiles)


async def apply_accounts(session: AsyncSession, items: list) -> None:
    """The account profiles territory rules look at; an account whose covering territory changes
    takes its opportunities from the old territory's chain to the new one's."""
    await hold_read_model_exclusively(session)  # before reading: a rebuild may be writing the profiles
    repo = RollupRepository(session)
    newest = newest_states(payload.account for _, payload in items)
    before = await repo.rows_before(account_profiles, list(newest), parent=None)
    fresh = [a for a in newest.values() if a.id not in before or before[a.id].version < a.version]
    if not fresh:
        return
    await repo.save_rows(account_profiles, [ACCOUNTS.to_row(a) for a in fresh])
    states = await repo.territory_states()
    if not states:
        return
    book = rule_book(states)
    covered = await repo.territories_of([a.id for a in fresh])
    parents = await repo.parent_map(territory_replica)
    with_facts = await repo.accounts_with_facts([a.id for a in fresh])
    for a in fresh:
        new = covering_territory(book, SimpleNamespace(**ACCOUNTS.to_row(a)))
        old = covered.get(a.id)
        if new != old:
            await repo.cover(a.id, new)
            if a.id in with_facts:
                await repo.shift_account_facts(a.id, parent_chain(parents, old), parent_chain(parents, new))


ORG_UNITS = ReadModel(org_unit_replica, TOPICS["team"], "org_unit", OrgUnitState, org_unit_row)
TERRITORIES = ReadModel(territory_replica, TOPICS["team"], "territory", TerritoryState, territory_row)
ACCOUNTS = ReadModel(account_profiles, TOPICS["account"], "account", AccountState, profile_row)

apply_opportunity = batch_handler(apply_opportunities)

# Every per-opportunity event carries the full state after the change: one handler for all.
HANDLERS = {f"kam.opportunity.{kind}.v1": apply_opportunity for kind in (
    "created", "stage_changed", "closed", "reopened", "updated", "owner_changed", "confirmation_changed",
    "assessment_recorded", "tender_updated", "team_changed")}
HANDLERS["kam.opportunity.stage_model_changed.v1"] = apply_stage_model
HANDLERS["kam.team.user_created.v1"] = HANDLERS["kam.team.user_updated.v1"] = batch_handler(apply_users)
for _model, _apply in ((ORG_UNITS, apply_org_units), (TERRITORIES, apply_territories), (ACCOUNTS, apply_accounts)):
    HANDLERS.update(dict.fromkeys(_model.event_types(), batch_handler(_apply)))
