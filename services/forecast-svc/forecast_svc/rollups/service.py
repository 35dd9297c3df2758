"""Use cases of the roll-ups: a node's subtree figures, and what other slices read from them."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import NotFound, ValidationProblem
from kam_shared.money import from_cents, validate_currency

from ..categories.domain import effective_category
from ..categories.repository import CategoryRepository
from ..periods.domain import Period
from ..periods.repository import fiscal_start_month, period_of
from ..rates.domain import Converter
from ..rates.service import rates_touching
from .domain.rollup import Group, rollup_from_groups
from .repository import HistoryRepository, RollupRepository, owners_of


async def ensure_node_visible(session: AsyncSession, runtime: Runtime, principal: Principal,
                              node: uuid.UUID) -> None:
    """A node is a user of the replicated hierarchy the principal may see; anything else is 404."""
    if node == principal.user_id:
        return
    known = await RollupRepository(session).user_known(runtime.tables.user_replica, node)
    if not known or not await runtime.visibility.can_see(session, principal, node):
        raise NotFound(f"node {node} not found")


async def unit_visible(session: AsyncSession, runtime: Runtime, principal: Principal, unit: uuid.UUID) -> bool:
    """An org unit is inside a principal's subtree when the unit or a unit above it is managed by
    the principal or by someone below them, or (for a manager) is the principal's own unit."""
    if principal.is_admin:
        return True
    repo = RollupRepository(session)
    path = await repo.unit_path(unit)
    own = await repo.unit_of_user(principal.user_id) if principal.role == "manager" else None
    for row in path:
        if own is not None and row.id == own:
            return True
        if row.manager_id is not None and (row.manager_id == principal.user_id or await runtime.visibility.can_see(
                session, principal, row.manager_id)):
            return True
    return False


async def territory_visible(session: AsyncSession, runtime: Runtime, principal: Principal,
                            territory: uuid.UUID) -> bool:
    """A territory is inside a principal's subtree when its account manager is the principal or
    below them, or its org unit is inside their subtree."""
    if principal.is_admin:
        return True
    row = await RollupRepository(session).territory(territory)
    if row is None:
        return False
    if row.owner_id == principal.user_id or await runtime.visibility.can_see(session, principal, row.owner_id):
        return True
    return row.org_unit_id is not None and await unit_visible(session, runtime, principal, row.org_unit_id)


async def node_kind(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                    context: list | None = None) -> str:
    """user | org_unit | territory, when the principal may see the node; else NotFound (404)."""
    if context is None:
        context = await RollupRepository(session).node_context(runtime.tables.user_replica, node)
    first = context[0] if context else None
    if node == principal.user_id or (first is not None and first.known is not None):
        if node == principal.user_id or await runtime.visibility.can_see(session, principal, node):
            return "user"
    elif first is not None and first.unit is not None:
        if await unit_visible(session, runtime, principal, node):
            return "org_unit"
    elif first is not None and first.territory is not None:
        if await territory_visible(session, runtime, principal, node):
            return "territory"
    raise NotFound(f"node {node} not found")
async def owners_node_kind(session: AsyncSession, runtime: Runtime, principal: Principal,
                           node: uuid.UUID) -> str:
    """The kind of a node whose owners a history view (pipeline changes, forecast history) covers:
    user or org_unit (404 if the node is unknown or not visible). A territory covers accounts, not
    owners: 422. The one place the history views resolve a node."""
    kind = await node_kind(session, runtime, principal, node)
    if kind == "territory":
        raise ValidationProblem("a territory is a roll-up node (GET /v1/rollups) only; pipeline changes and "
                                "forecast history take a user or an org unit", field="node", reason="territory_node")
    return kind


async def node_owners(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID):
    """The owners a node's history views cover (repository.owners_of), once the node is checked
    (owners_node_kind)."""
    kind = await owners_node_kind(session, runtime, principal, node)
    return owners_of(runtime.tables.user_replica, kind, node)


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


def _groups(rows: list, converter: Converter) -> list[Group]:
    """The cells (per close month and currency) as groups in the converter's currency; rows of a
    currency with no rate in force are left out (the converter names them)."""
    groups = []
    for r in rows:
        converted = converter.convert(r[0], r[1], int(r[6]), int(r[7] or 0), int(r[8] or 0))
        if converted is not None:
            groups.append(Group(status=r[2], stage=r[3], confirmed=bool(r[4]), category_override=r[5] or None,
                                count=int(r[6]), amount_cents=converted[0], weighted_cents_x100=converted[1]))
    return groups


async def converter_for(session: AsyncSession, runtime: Runtime, currency: str, rows: list) -> Converter:
    """The converter into `currency`, with the rates touching it when any other currency has figures."""
    foreign = any(r[1] != currency and r[6] for r in rows)
    rates = await rates_touching(session, currency) if foreign else []
    basis = runtime.settings.kam_fx_rate_basis
    fiscal = await fiscal_start_month(session) if rates and basis == "fiscal_quarter" else 1
    return Converter(currency, rates, basis, fiscal)


async def rollup_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                     period_text: str, currency: str | None, confirmed_only: bool = False) -> dict:
    """The node's subtree figures for the period: its own cells (see domain/cells.py), nothing else,
    converted into `currency` at the rates in force (see rates/domain.py)."""
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    repo = RollupRepository(session)
    # What every roll-up needs besides the cells, in one read: the stage mapping and which kind of
    # node it is. Admins and readers of their own node need nothing more.
    context = await repo.rollup_context(runtime.tables.user_replica, node)
    kind = await node_kind(session, runtime, principal, node, context)
    mapping = {r.stage: r.category for r in context}
    # Every currency's cells of the node per close month in one read (a few dozen rows per month),
    # and the `as_of` they are as of, from the same snapshot.
    as_of_now = repo.as_of_now(runtime.tables.read_model_status, runtime.settings.service_name)
    rows, as_of = await repo.node_cells(node, period.start, period.end, as_of_now)
    converter = await converter_for(session, runtime, currency, rows)
    rollup = rollup_from_groups(_groups(rows, converter), mapping, confirmed_only)
    used = [dict(u, amount=from_cents(u.pop("cents"))) for u in converter.rates_used()]
    return {"node": node, "node_kind": kind, "period": period.label, "period_start": period.start,
            "period_end": period.end, "currency": currency, "confirmed_only": confirmed_only,
            "other_currencies": sorted(converter.missing), "rates_used": used,
            "as_of": as_of, **rollup.__dict__,
            "categories": [dict(c.__dict__) for c in rollup.categories]}
