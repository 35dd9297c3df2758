"""All SQL of the users slice: the directory, the reporting line's paths, what a user still owns.

Reads on the hot paths (subtree, chain, is-above) also run on the autocommit connection of
common.read_pool, so `Users` takes a session or a connection there."""
from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select

from kam_shared.repository import Repository

from ..common.models import org_units, users
from ..territories.models import territories

PUBLIC_COLUMNS = [users.c.id, users.c.email, users.c.name, users.c.role, users.c.superior_id, users.c.active,
                  users.c.version, users.c.org_unit_id, users.c.title, users.c.created_at, users.c.updated_at]


def present(row) -> dict:
    return {c.name: row[c.name] for c in PUBLIC_COLUMNS}


class Users(Repository):
    async def placement_row(self, user_id: uuid.UUID):
        return (await self.session.execute(select(users.c.id, users.c.active, users.c.org_unit_id, users.c.path)
                                           .where(users.c.id == user_id))).mappings().first()

    async def unit_company_and_active(self, unit_id: uuid.UUID):
        return (await self.session.execute(select(org_units.c.company_id, org_units.c.active)
                                           .where(org_units.c.id == unit_id))).first()

    async def id_by_email(self, email: str) -> uuid.UUID | None:
        return await self.session.scalar(select(users.c.id).where(users.c.email == email))

    async def add(self, values: dict) -> None:
        await self.session.execute(insert(users).values(**values))

    async def save(self, user_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the user is still at `expected_version`; False if they are not."""
        result = await self.session.execute(users.update().where(users.c.id == user_id,
                                                                 users.c.version == expected_version).values(values))
        return result.rowcount == 1

    async def reports_in_other_company(self, user_id: uuid.UUID, company_id: uuid.UUID) -> int:
        """Active direct reports placed in a unit of another company."""
        return await self.session.scalar(
            select(func.count()).select_from(users.join(org_units, users.c.org_unit_id == org_units.c.id))
            .where(users.c.superior_id == user_id, users.c.active.is_(True), org_units.c.company_id != company_id))

    async def active_direct_reports(self, user_id: uuid.UUID) -> int:
        return await self.session.scalar(select(func.count()).select_from(users).where(
            users.c.superior_id == user_id, users.c.active.is_(True)))

    async def active_territories_owned(self, user_id: uuid.UUID) -> list[str]:
        return list((await self.session.scalars(select(territories.c.name).where(
            territories.c.owner_id == user_id, territories.c.active.is_(True)))).all())

    async def active_units_managed(self, user_id: uuid.UUID) -> list[str]:
        return list((await self.session.scalars(select(org_units.c.name).where(
            org_units.c.manager_id == user_id, org_units.c.active.is_(True)))).all())

    async def public_row(self, user_id: uuid.UUID):
        return (await self.session.execute(select(*PUBLIC_COLUMNS).where(users.c.id == user_id))).mappings().first()

    async def page(self, *, limit: int, cursor: str | None, org_unit_id: uuid.UUID | None,
                   active: bool | None) -> tuple[list, str | None]:
        query = select(*PUBLIC_COLUMNS)
        if org_unit_id is not None:
            query = query.where(users.c.org_unit_id == org_unit_id)
        if active is not None:
            query = query.where(users.c.active.is_(active))
        return await self.paginate(query, keys=[users.c.id], limit=limit, cursor=cursor, present=present)

    async def subtree_rows(self, user_id: uuid.UUID, *, include_inactive: bool, max_depth: int | None) -> list:
        """The user and everyone below them, in path order, in one statement: the root's path (a scalar
        subquery) bounds an index range scan, so it costs one round trip whatever the organisation's size."""
        root_path = select(users.c.path).where(users.c.id == user_id).scalar_subquery()
        # [path, path[:-1] + '0'): '0' is the character right after '/' (see common/paths.py)
        upper = func.substr(root_path, 1, func.length(root_path) - 1).concat("0")
        query = (select(*PUBLIC_COLUMNS, users.c.path).where(users.c.path >= root_path, users.c.path < upper)
                 .order_by(users.c.path))
        if not include_inactive:
            query = query.where((users.c.active.is_(True)) | (users.c.id == user_id))
        if max_depth is not None:
            query = query.where(func.length(users.c.path) <= func.length(root_path) + 33 * max_depth)
        return (await self.session.execute(query)).mappings().all()

    async def public_rows_by_id(self, user_ids: list[uuid.UUID]) -> dict:
        if not user_ids:
            return {}
        return {r["id"]: r for r in (await self.session.execute(select(*PUBLIC_COLUMNS)
                                                                .where(users.c.id.in_(user_ids)))).mappings().all()}
