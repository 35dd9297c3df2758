"""Use cases of the pipeline: the list, the per-stage summary and the snapshot, over what the caller may see."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events import utcnow
from kam_shared.hierarchy import subtree_ids
from kam_shared.money import from_cents

from ..opportunities.repository import to_domain
from ..opportunities.service import present
from ..stage_model.domain import StageModel
from ..stage_model.repository import StageModelRepository
from .repository import PipelineRepository


async def _scope(session: AsyncSession, runtime: Runtime, principal: Principal, *, owner_subtree=None,
                 **filters) -> dict:
    """The caller's visible owners and the subtree filter, resolved from the user replica; then the filters."""
    owners = await runtime.visibility.owner_ids(session, principal)
    subtree = None
    if owner_subtree is not None:
        subtree = await subtree_ids(session, runtime.tables.user_replica, owner_subtree)
    return dict(owners=owners, user_id=principal.user_id, subtree=subtree, **filters)


async def list_visible(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                       cursor: str | None, **filters) -> dict:
    scope = await _scope(session, runtime, principal, **filters)
    model = await StageModelRepository(session).load()
    items, next_cursor = await PipelineRepository(session).page(
        limit=limit, cursor=cursor, present=lambda row: present(to_domain(row), model), **scope)
    return {"items": items, "next_cursor": next_cursor}


async def snapshot(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                   cursor: str | None) -> dict:
    """Full states in id order with their versions: what the events carry, for read-model rebuilds.
    Merge it with the live stream by version (upsert where stored version < snapshot version)."""
    as_of = utcnow()
    scope = await _scope(session, runtime, principal)
    items, next_cursor = await PipelineRepository(session).page(
        limit=limit, cursor=cursor, present=lambda row: to_domain(row).state(), **scope)
    model = await StageModelRepository(session).load()
    return {"items": items, "next_cursor": next_cursor, "stage_model_version": model.version, "as_of": as_of}


def _amounts(selected) -> list[dict]:
    """Per currency: the amount and the weighted amount (Σ amount × probability)."""
    by_currency: dict[str, list[int]] = {}
    for r in selected:
        cents, weighted = by_currency.setdefault(r.currency, [0, 0])
        by_currency[r.currency] = [cents + int(r.cents), weighted + int(r.weighted_x100)]
    return [dict(currency=cur, amount=from_cents(cents),
                 weighted_amount=(Decimal(weighted) / 10000).quantize(Decimal("0.01")))
            for cur, (cents, weighted) in sorted(by_currency.items())]


def _stages(rows, model: StageModel) -> list[dict]:
    """Open stages 1..7, then won and lost."""
    stages = []
    for number in range(1, 8):
        selected = [r for r in rows if r.status == "open" and r.stage == number]
        stages.append(dict(stage=number, name=model.name(number), status="open",
                           probability=model.probability(number), count=sum(r.n for r in selected),
                           amounts=_amounts(selected)))
    for outcome in ("won", "lost"):
        selected = [r for r in rows if r.status == outcome]
        stages.append(dict(stage=8, name=f"{model.name(8)} ({outcome})", status=outcome, probability=None,
                           count=sum(r.n for r in selected), amounts=_amounts(selected)))
    return stages


async def pipeline_summary(session: AsyncSession, runtime: Runtime, principal: Principal, **filters) -> dict:
    scope = await _scope(session, runtime, principal, **filters)
    rows = await PipelineRepository(session).sums(**scope)
    model = await StageModelRepository(session).load()
    stages = _stages(rows, model)
    open_rows = [r for r in rows if r.status == "open"]
    return dict(stages=stages, open_count=sum(r.n for r in open_rows), open_amounts=_amounts(open_rows),
                won_count=stages[7]["count"], lost_count=stages[8]["count"],
                high_value_count=sum(int(r.high_value) for r in open_rows),
                confirmed_count=sum(int(r.confirmed) for r in open_rows), stage_model_version=model.version)
