"""Use cases of the roll-ups: a node's subtree figures, and what other slices read from them."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import NotFound
from kam_shared.hierarchy import subtree_cte
from kam_shared.money import validate_currency

from ..categories.domain import effective_category
from ..categories.repository import CategoryRepository
from ..periods.domain import Period
from ..periods.repository import period_of
from .domain.rollup import Group, rollup_from_groups
from .repository import HistoryRepository, RollupRepository


async def ensure_node_visible(session: AsyncSession, runtime: Runtime, principal: Principal,
                              node: uuid.UUID) -> None:
    """A node is a user of the replicated hierarchy the principal may see; anything else is 404."""
    if node == principal.user_id:
        return
    known = await RollupRepository(session).user_known(runtime.tables.user_replica, node)
    if not known or not await runtime.visibility.can_see(session, principal, node):
        raise NotFound(f"node {node} not found")


async def node_owners(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID):
    """The owners a node's history views cover, as a selectable with one column `id` (404 if the
    node is unknown or not visible). Today a node is a user: they and everyone below them in the
    replicated hierarchy. The one place the history views resolve a node (other node kinds plug in here)."""
    await ensure_node_visible(session, runtime, principal, node)
    return subtree_cte(runtime.tables.user_replica, node)


async def history_limit(session: AsyncSession):
    """The earliest instant the state history knows: the later of its horizon and its first
    state (None when it holds nothing yet)."""
    horizon, first = await HistoryRepository(session).limit()
    known = [t for t in (horizon, first) if t is not None]
    return max(known) if known else None


async def own_opportunities(session: AsyncSession, owner_id: uuid.UUID, period: Period, currency: str,
                            confirmed_only: bool = True) -> list[dict]:
    """The opportunities one person is primary owner of, closing in the period, in one currency,
    each with its effective forecast category (the pre-fill of a rep's forecast record)."""
    mapping = await CategoryRepository(session).category_map()
    rows = await RollupRepository(session).owned_facts(owner_id, currency, period.start, period.end, confirmed_only)
    return [dict(r, category=effective_category(r["status"], r["stage"], r["category_override"], mapping))
            for r in rows]


def _groups(rows: list, currency: str) -> tuple[list[Group], set[str]]:
    """The asked-for currency's cells as groups, and the other currencies that hold any amount."""
    others = {r[0] for r in rows if r[0] != currency and r[5] > 0}
    groups = [Group(status=r[1], stage=r[2], confirmed=bool(r[3]), category_override=r[4] or None, count=int(r[5]),
                    amount_cents=int(r[6] or 0), weighted_cents_x100=int(r[7] or 0))
              for r in rows if r[0] == currency]
    return groups, others


async def rollup_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                     period_text: str, currency: str | None, confirmed_only: bool = False) -> dict:
    """The node's subtree figures for the period: its own cells (see domain/cells.py), nothing else."""
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    repo = RollupRepository(session)
    # What every roll-up needs besides the cells, in one read: the stage mapping, `as_of`, and
    # whether the node is known. Admins and readers of their own node need nothing more.
    context = await repo.rollup_context(runtime.tables.read_model_status, runtime.settings.service_name,
                                        runtime.tables.user_replica, node)
    if node != principal.user_id and (not context or context[0].known is None
                                      or not await runtime.visibility.can_see(session, principal, node)):
        raise NotFound(f"node {node} not found")
    mapping = {r.stage: r.category for r in context}
    as_of = context[0].as_of if context else None
    # Every currency's cells of the node in one read (a few dozen rows): the asked-for currency is
    # summed, the others are only named.
    groups, others = _groups(await repo.node_cells(node, period.start, period.end), currency)
    rollup = rollup_from_groups(groups, mapping, confirmed_only)
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "confirmed_only": confirmed_only, "other_currencies": sorted(others),
            "as_of": as_of, **rollup.__dict__,
            "categories": [dict(c.__dict__) for c in rollup.categories]}
