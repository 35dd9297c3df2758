"""Use case of what changed since: the node's opportunities then and now, from the state history."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events import utcnow
from kam_shared.money import from_cents, validate_currency

from ..categories.domain import effective_category
from ..categories.repository import CategoryRepository
from ..periods.repository import period_of
from ..rollups.domain.rollup import Group
from ..rollups.repository import HistoryRepository
from ..rollups.service import history_limit, owners_node_kind
from . import domain
from .domain import Change, Classified, Effect, Scope, State
from .repository import ChangesRepository


def _changes(rows) -> list[Change]:
    """Each opportunity's state at `since` (prev_*) and today (its fact), from the rows of
    ChangesRepository.changes' page: the id, the nine prev_* columns, the fact's nine state columns,
    its last change, in_tree and prev_in_tree (by position: 10k+ rows a quarter)."""
    out = []
    for t in rows:
        before = State(*t[1:9]) if t[7] is not None else None
        out.append(Change(t[0], before, bool(t[21]), State(*t[10:18]), bool(t[20]), t[19]))
    return out


def now_cells(rows) -> dict[tuple, list[int]]:
    return {(r[0], r[1], r[2]): [int(r[3]), int(r[4] or 0), int(r[5] or 0)] for r in rows}


def _state_out(state: State | None, mapping: dict[int, str]) -> dict | None:
    if state is None:
        return None
    return {"owner_id": state.owner_id, "stage": state.stage, "probability": state.probability,
            "amount": from_cents(state.amount_cents), "currency": state.currency, "close_date": state.close_date,
            "status": state.status,
            "category": effective_category(state.status, state.stage, state.category_override, mapping)}


def _item(c: Classified, mapping: dict[int, str]) -> dict:
    e = c.effect
    return {"opportunity_id": c.change.opportunity_id, "kind": c.kind, "changed_at": c.change.changed_at,
            "changed_fields": c.changed_fields, "before": _state_out(c.change.before, mapping),
            "after": _state_out(c.change.after, mapping),
            "effect": {"open_amount": from_cents(e.open_cents), "weighted_amount": domain.weighted(e.weighted_x100),
                       "commit_amount": from_cents(e.commit_cents), "won_amount": from_cents(e.won_cents)}}


async def pipeline_changes(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                           period_text: str, since_text: str, currency: str | None, limit: int,
                           offset: int = 0) -> dict:
    """The node's opportunities that changed the period's roll-up since `since`, classified, and the
    waterfall from the roll-up then to today's (both ends exactly the roll-up at those times).
    The database classifies and sums every change (a top node's quarter has 10^4); the first
    `limit` of the listing after `offset` come back and are classified again here, with the pure
    functions; the totals are always every change's."""
    repo = HistoryRepository(session)
    await repo.consistent_reads()
    now = utcnow()
    since = domain.parse_since(since_text, now)
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    kind = await owners_node_kind(session, runtime, principal, node)
    limit_at = await history_limit(session)
    domain.check_since(since, now, limit_at)
    scope = Scope(currency, period.start, period.end)
    mapping = await CategoryRepository(session).category_map()
    changes = ChangesRepository(session)
    now_rows = now_cells(await changes.now_groups(node, currency, period.start, period.end))
    totals_rows, adjust_rows, page_rows = await changes.changes(runtime, kind, node, scope, since, mapping, limit,
                                                                offset)
    totals = {r[0]: Effect(*(int(v or 0) for v in r[2:])) for r in totals_rows}
    counts = {r[0]: int(r[1]) for r in totals_rows}
    start = domain.adjusted(now_rows, now_cells(adjust_rows))
    end: list[Group] = domain.to_groups(now_rows)
    listed = domain.ordered(domain.classify(_changes(page_rows), scope, mapping))
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "since": since, "until": now, "history_starts_at": limit_at,
            **domain.changes_summary(start, end, totals, counts, mapping),
            "changes_total": sum(counts.values()), "changes": [_item(c, mapping) for c in listed]}
