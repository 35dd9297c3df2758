"""SQL of the categories slice: the stage → category mapping."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, insert, select

from kam_shared.repository import Repository

from .models import category_mapping


class CategoryRepository(Repository):
    async def category_map(self) -> dict[int, str]:
        """Open stage → forecast category, as configured (forecast principles)."""
        return dict((await self.session.execute(select(category_mapping.c.stage, category_mapping.c.category))).all())

    async def rows(self) -> list:
        return (await self.session.execute(select(category_mapping).order_by(category_mapping.c.stage))
                ).mappings().all()

    async def lock(self) -> None:
        """Row-lock the mapping (PostgreSQL) so two replacements run one after the other."""
        await self.session.execute(self.for_update(select(category_mapping.c.stage)))

    async def replace(self, mapping: dict[int, str], version: int, by: uuid.UUID, at: dt.datetime) -> None:
        await self.session.execute(delete(category_mapping))
        await self.session.execute(insert(category_mapping), [
            dict(stage=s, category=c, version=version, updated_by=by, updated_at=at) for s, c in mapping.items()])
