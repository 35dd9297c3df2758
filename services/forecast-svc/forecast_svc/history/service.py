"""Use case of the forecast history: the node's roll-up at each day or week end, from the state
history, and the node's submitted forecast versions on the same time line."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.events import utcnow
from kam_shared.money import from_cents, validate_currency

from ..categories.repository import CategoryRepository
from ..changes.repository import ChangesRepository
from ..changes.service import now_cells
from ..periods.repository import period_of
from ..rollups.repository import HistoryRepository
from ..rollups.service import history_limit, node_owners
from . import domain
from .repository import ForecastHistoryRepository

_FIGURES = ("pipeline", "best_case", "commit", "closed", "omitted")


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _deltas(rows) -> list:
    return [(_day(r[0]), (r[1], r[2], r[3]), [int(r[4]), int(r[5] or 0), int(r[6] or 0)]) for r in rows]


def _submission(row) -> dict:
    return {"record_id": row["record_id"], "version": row["number"], "kind": row["kind"], "at": row["created_at"],
            "by": row["created_by"], "submitted_to": row["submitted_to"], "note": row["note"],
            "figures": {f: from_cents(row[f"{f}_cents"]) for f in _FIGURES},
            "forecast_amount": from_cents(row["forecast_cents"]), "upside_amount": from_cents(row["upside_cents"])}


def _point(point: domain.Point, rollup) -> dict:
    return {"day": point.day, "at": point.at, "open_count": rollup.open_count, "open_amount": rollup.open_amount,
            "weighted_amount": rollup.weighted_amount, "won_count": rollup.won_count,
            "won_amount": rollup.won_amount, "lost_count": rollup.lost_count, "lost_amount": rollup.lost_amount,
            "categories": [dict(c.__dict__) for c in rollup.categories]}


async def forecast_history(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                           period_text: str, interval: str, currency: str | None) -> dict:
    repo = HistoryRepository(session)
    await repo.consistent_reads()
    now = utcnow()
    interval = domain.check_interval(interval)
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    tree = await node_owners(session, runtime, principal, node)
    limit_at = await history_limit(session)
    at = domain.points(period.start, period.end, limit_at, now, interval)
    series = []
    if at:
        mapping = await CategoryRepository(session).category_map()
        cells = now_cells(await ChangesRepository(session).now_groups(node, currency, period.start, period.end))
        deltas = _deltas(await repo.deltas_by_day(tree, currency, period.start, period.end,
                                                  domain.midnight_after(at[0].day)))
        series = domain.series(cells, deltas, at, mapping)
    versions = await ForecastHistoryRepository(session).submitted_versions(node, period.start, period.end, currency)
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "interval": interval, "history_starts_at": limit_at,
            "points": [_point(p, r) for p, r in series], "submissions": [_submission(v) for v in versions]}
