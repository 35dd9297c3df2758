"""All SQL of the org slice: org units, their placement in the tree, their members."""
from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import aliased

from kam_shared.repository import Repository

from ..common.hierarchy import in_subtree
from ..common.models import org_units, users

UNIT_COLUMNS = [org_units.c.id, org_units.c.name, org_units.c.kind, org_units.c.parent_id, org_units.c.company_id,
                org_units.c.manager_id, org_units.c.active, org_units.c.version, org_units.c.created_at,
                org_units.c.updated_at]
TREE_PERSON_COLUMNS = [users.c.id, users.c.name, users.c.email, users.c.role, users.c.title, users.c.superior_id,
                       users.c.org_unit_id, users.c.active]


class OrgUnits(Repository):
    async def row(self, unit_id: uuid.UUID, *, lock: bool = False):
        query = select(org_units).where(org_units.c.id == unit_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def parent_facts(self, parent_id: uuid.UUID):
        return (await self.session.execute(
            select(org_units.c.id, org_units.c.company_id, org_units.c.active, org_units.c.path)
            .where(org_units.c.id == parent_id))).mappings().first()

    async def active_sibling_named(self, parent_id: uuid.UUID | None, name: str,
                                   unit_id: uuid.UUID | None = None) -> bool:
        query = select(org_units.c.id).where(func.lower(org_units.c.name) == name.lower(),
                                             org_units.c.active.is_(True))
        query = query.where(org_units.c.parent_id == parent_id if parent_id else org_units.c.parent_id.is_(None))
        if unit_id is not None:
            query = query.where(org_units.c.id != unit_id)
        return bool(await self.session.scalar(query.limit(1)))

    async def add(self, values: dict) -> None:
        await self.session.execute(insert(org_units).values(**values))

    async def save(self, unit_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the unit is still at `expected_version`; False if it is not."""
        result = await self.session.execute(update(org_units).where(org_units.c.id == unit_id,
                                                                    org_units.c.version == expected_version)
                                            .values(**values))
        return result.rowcount == 1

    async def set_company(self, unit_id: uuid.UUID, values: dict) -> None:
        await self.session.execute(update(org_units).where(org_units.c.id == unit_id).values(**values))

    async def active_children(self, unit_id: uuid.UUID) -> int:
        return await self.session.scalar(select(func.count()).select_from(org_units).where(
            org_units.c.parent_id == unit_id, org_units.c.active.is_(True)))

    async def active_members(self, unit_id: uuid.UUID) -> int:
        return await self.session.scalar(select(func.count()).select_from(users).where(
            users.c.org_unit_id == unit_id, users.c.active.is_(True)))

    async def is_active(self, unit_id: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(org_units.c.active).where(org_units.c.id == unit_id)))

    async def crossing_lines(self, unit_path: str) -> int:
        """Active reporting lines between people inside the unit's subtree and placed people outside it."""
        inside = select(org_units.c.id).where(in_subtree(org_units.c.path, unit_path))
        sub, sup = aliased(users), aliased(users)
        edges = select(func.count()).select_from(sub.join(sup, sub.c.superior_id == sup.c.id)).where(
            sub.c.active.is_(True), sup.c.active.is_(True), sub.c.org_unit_id.is_not(None),
            sup.c.org_unit_id.is_not(None))
        up = await self.session.scalar(edges.where(sub.c.org_unit_id.in_(inside), sup.c.org_unit_id.not_in(inside)))
        down = await self.session.scalar(edges.where(sup.c.org_unit_id.in_(inside),
                                                     sub.c.org_unit_id.not_in(inside)))
        return (up or 0) + (down or 0)

    async def descendants(self, root_path: str, root_id: uuid.UUID) -> list:
        """Every unit below the root, in path order."""
        return (await self.session.execute(select(org_units).where(in_subtree(org_units.c.path, root_path),
                                                                   org_units.c.id != root_id)
                                           .order_by(org_units.c.path))).mappings().all()

    async def public_row(self, unit_id: uuid.UUID):
        return (await self.session.execute(select(*UNIT_COLUMNS, org_units.c.path)
                                           .where(org_units.c.id == unit_id))).mappings().first()

    async def page(self, *, limit: int, cursor: str | None, parent_id: uuid.UUID | None,
                   company_id: uuid.UUID | None, active: bool | None) -> tuple[list, str | None]:
        query = select(*UNIT_COLUMNS)
        if parent_id is not None:
            query = query.where(org_units.c.parent_id == parent_id)
        if company_id is not None:
            query = query.where(org_units.c.company_id == company_id)
        if active is not None:
            query = query.where(org_units.c.active.is_(active))
        return await self.paginate(query, keys=[org_units.c.id], limit=limit, cursor=cursor)

    async def path_of(self, unit_id: uuid.UUID) -> str | None:
        return await self.session.scalar(select(org_units.c.path).where(org_units.c.id == unit_id))

    async def tree_units(self, root_path: str | None, *, include_inactive: bool) -> list:
        query = select(*UNIT_COLUMNS, org_units.c.path).order_by(org_units.c.path)
        if root_path is not None:
            query = query.where(in_subtree(org_units.c.path, root_path))
        if not include_inactive:
            query = query.where(org_units.c.active.is_(True))
        return (await self.session.execute(query)).mappings().all()

    async def tree_people(self, unit_ids: list[uuid.UUID] | None, *, include_inactive: bool) -> list:
        """People by name; only those placed in `unit_ids` unless it is None."""
        people = select(*TREE_PERSON_COLUMNS).order_by(users.c.name, users.c.id)
        if not include_inactive:
            people = people.where(users.c.active.is_(True))
        if unit_ids is not None:
            people = people.where(users.c.org_unit_id.in_(unit_ids))
        return (await self.session.execute(people)).mappings().all()
