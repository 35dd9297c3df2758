"""SQL of the forecast history slice beyond the state history (rollups.repository.HistoryRepository):
the submitted versions of the node's forecast records for the period."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from kam_shared.repository import Repository

from ..submission.models import forecast_records, forecast_versions

SUBMITTED_KINDS = ("submission", "publication")


class ForecastHistoryRepository(Repository):
    async def submitted_versions(self, owner: uuid.UUID, start, end, currency: str) -> list:
        r, v = forecast_records, forecast_versions
        return (await self.session.execute(
            select(r.c.id.label("record_id"), r.c.period, v.c.number, v.c.kind, v.c.created_at, v.c.created_by,
                   v.c.submitted_to, v.c.note, v.c.pipeline_cents, v.c.best_case_cents, v.c.commit_cents,
                   v.c.closed_cents, v.c.omitted_cents, v.c.forecast_cents, v.c.upside_cents)
            .join(v, v.c.record_id == r.c.id)
            .where(r.c.owner_id == owner, r.c.period_start == start, r.c.period_end == end, r.c.currency == currency,
                   v.c.kind.in_(SUBMITTED_KINDS))
            .order_by(v.c.created_at, v.c.number))).mappings().all()
