"""All SQL of the predictions slice: the opportunity journeys and the versions that say when the
in-memory statistics are stale. The method itself is pure and lives in domain.py."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Numeric, Table, cast, delete, func, select, update

from kam_shared.hierarchy import subtree_cte
from kam_shared.replicas import upsert_versioned_many
from kam_shared.repository import Repository

from .models import prediction_journeys as journeys
from .models import prediction_versions as versions

DELETE_CHUNK = 1000
# What the backtest and the statistics read of a journey (not the opportunity's id).
_HISTORY_COLUMNS = [c for c in journeys.c if c.name != "id"]


class PredictionRepository(Repository):
    # ------------------------------------------------------------------ writes (consumer, rebuild)
    async def journeys_for_update(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
        query = self.for_update(select(journeys).where(self.among(journeys.c.id, ids)))
        return {r["id"]: dict(r) for r in (await self.session.execute(query)).mappings().all()}

    async def save_journeys(self, rows: list[dict]) -> None:
        if rows:
            await upsert_versioned_many(self.session, journeys, rows)

    async def journey_versions(self) -> dict[uuid.UUID, int]:
        return dict((await self.session.execute(select(journeys.c.id, journeys.c.version))).all())

    async def stored_journeys(self) -> list:
        return (await self.session.execute(select(journeys.c.id, journeys.c.updated_at))).all()

    async def remove_journeys(self, ids: list) -> None:
        for start in range(0, len(ids), DELETE_CHUNK):
            await self.session.execute(delete(journeys).where(journeys.c.id.in_(ids[start:start + DELETE_CHUNK])))

    async def history_changed(self) -> None:
        await self.session.execute(update(versions).where(versions.c.id == 1)
                                   .values(history=versions.c.history + 1))

    # ------------------------------------------------------------------ reads
    async def history_version(self) -> int:
        return await self.session.scalar(select(versions.c.history).where(versions.c.id == 1)) or 0

    async def closed_journeys(self) -> list[dict]:
        """Every closed journey (the statistics' input; cached while the history version stands)."""
        return [dict(r) for r in (await self.session.execute(
            select(*_HISTORY_COLUMNS).where(journeys.c.status != "open"))).mappings().all()]

    async def all_journeys(self) -> list[dict]:
        return [dict(r) for r in (await self.session.execute(select(*_HISTORY_COLUMNS))).mappings().all()]

    def _entered_day(self):
        """The current stage's entry as a UTC calendar day, in SQL."""
        if self.postgres:
            return func.date(func.timezone("UTC", journeys.c.stage_entered_at))
        return func.date(journeys.c.stage_entered_at)

    async def period_pipeline(self, users: Table, node: uuid.UUID, start: dt.date, end: dt.date) -> list:
        """The node's subtree's open and won journeys closing in [start, end), every currency, in
        one read of the close-date index (0015): per (currency, status, stage, day the stage was
        entered), (currency, status, stage, day, count, cents, Σ cents²)."""
        tree = subtree_cte(users, node)
        day = self._entered_day()
        square = cast(journeys.c.amount_cents, Numeric(38, 0)) * journeys.c.amount_cents
        return (await self.session.execute(
            select(journeys.c.currency, journeys.c.status, journeys.c.stage, day.label("day"), func.count(),
                   func.sum(journeys.c.amount_cents), func.sum(square))
            .join(tree, journeys.c.owner_id == tree.c.id)
            .where(journeys.c.close_date >= start, journeys.c.close_date < end,
                   journeys.c.status.in_(("open", "won")))
            .group_by(journeys.c.currency, journeys.c.status, journeys.c.stage, day))).all()
