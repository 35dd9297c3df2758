"""SQL of assignment: the territory replica."""
from __future__ import annotations

from sqlalchemy import select

from kam_shared.repository import Repository

from .models import territory_replica


class TerritoryRepository(Repository):
    async def active_states(self) -> list[dict]:
        """The whole state of every active territory, as replicated."""
        query = select(territory_replica.c.state).where(territory_replica.c.active.is_(True))
        return list((await self.session.scalars(query)).all())
