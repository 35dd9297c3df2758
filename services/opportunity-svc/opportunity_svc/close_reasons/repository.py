"""All SQL of the close reasons: read the list (locked for an admin's change), replace it."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select

from kam_shared.repository import Repository

from .domain import CloseReason, CloseReasons
from .models import close_reasons

_LIST = select(close_reasons).order_by(close_reasons.c.position)


class CloseReasonRepository(Repository):
    async def load(self, *, for_update: bool = False) -> CloseReasons:
        query = self.for_update(_LIST) if for_update else _LIST
        rows = (await self.session.execute(query)).mappings().all()
        if not rows:  # never empty after migration 0005; the defaults if someone emptied the table by hand
            return CloseReasons()
        return CloseReasons(tuple(CloseReason(r["outcome"], r["code"], {"zh-CN": r["label_zh"], "en": r["label_en"]},
                                              r["needs_competitor"], r["active"]) for r in rows), rows[0]["version"])

    async def save(self, reasons: CloseReasons, by: uuid.UUID | None, at: dt.datetime) -> None:
        await self.session.execute(delete(close_reasons))
        await self.session.execute(self.insert(close_reasons), [
            dict(outcome=r.outcome, code=r.code, position=i, label_zh=r.labels["zh-CN"], label_en=r.labels["en"],
                 needs_competitor=r.needs_competitor, active=r.active, version=reasons.version, updated_at=at,
                 updated_by=by) for i, r in enumerate(reasons.reasons)])
