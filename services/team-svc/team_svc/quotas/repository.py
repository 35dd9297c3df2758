"""All SQL of the quotas slice: the fiscal calendar, quotas and their history, and the attainment
reads (won and open revenue from the opportunity replica, scoped by the hierarchy or an org unit)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, insert, select, update

from kam_shared.repository import Repository

from ..common.hierarchy import in_subtree
from ..common.models import org_units, users
from ..replicas.models import opportunity_facts as facts
from .models import fiscal_calendar, quota_history, quotas


class Quotas(Repository):
    # ------------------------------------------------------------------------ fiscal calendar
    async def calendar_row(self):
        return (await self.session.execute(select(fiscal_calendar).where(fiscal_calendar.c.id == 1))).mappings().one()

    async def set_calendar(self, values: dict) -> None:
        await self.session.execute(update(fiscal_calendar).where(fiscal_calendar.c.id == 1).values(**values))

    # --------------------------------------------------------------------------------- quotas
    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(quotas))

    async def add(self, values: dict) -> None:
        await self.session.execute(insert(quotas).values(**values))

    async def save(self, quota_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the quota is still at `expected_version`; False if it is not."""
        result = await self.session.execute(update(quotas).where(quotas.c.id == quota_id,
                                                                 quotas.c.version == expected_version)
                                            .values(**values))
        return result.rowcount == 1

    async def add_history(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(insert(quota_history), rows)

    async def row(self, quota_id: uuid.UUID, *, lock: bool = False):
        query = select(quotas).where(quotas.c.id == quota_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def existing_row(self, quota_id: uuid.UUID):
        """A quota known to exist (a parent): raises if it does not."""
        return (await self.session.execute(select(quotas).where(quotas.c.id == quota_id))).mappings().one()

    async def of_owner(self, owner_kind: str, owner_id: uuid.UUID, period: str):
        return (await self.session.execute(select(quotas).where(
            quotas.c.owner_kind == owner_kind, quotas.c.owner_id == owner_id,
            quotas.c.period == period))).mappings().first()

    async def id_of_owner(self, owner_kind: str, owner_id: uuid.UUID, period: str) -> uuid.UUID | None:
        return await self.session.scalar(select(quotas.c.id).where(quotas.c.owner_kind == owner_kind,
                                                                   quotas.c.owner_id == owner_id,
                                                                   quotas.c.period == period))

    async def unit_manager_and_active(self, unit_id: uuid.UUID):
        return (await self.session.execute(select(org_units.c.manager_id, org_units.c.active)
                                           .where(org_units.c.id == unit_id))).first()

    async def children_cents(self, parent_id: uuid.UUID, excluding: uuid.UUID | None = None) -> int:
        query = select(func.coalesce(func.sum(quotas.c.amount_cents), 0)).where(quotas.c.parent_quota_id == parent_id)
        if excluding is not None:
            query = query.where(quotas.c.id != excluding)
        return await self.session.scalar(query)

    async def children_cents_of_owners(self, parent_id: uuid.UUID, owner_ids: list[uuid.UUID]) -> list[int]:
        return [r["amount_cents"] for r in (await self.session.execute(
            select(quotas.c.amount_cents).where(quotas.c.parent_quota_id == parent_id,
                                                quotas.c.owner_id.in_(owner_ids)))).mappings()]

    async def children(self, parent_id: uuid.UUID) -> list:
        return (await self.session.execute(select(quotas).where(quotas.c.parent_quota_id == parent_id)
                                           .order_by(quotas.c.owner_kind, quotas.c.owner_id))).mappings().all()

    async def page(self, *, limit: int, cursor: str | None, filters: dict,
                   visible: set[uuid.UUID] | None, present) -> tuple[list, str | None]:
        query = select(quotas)
        for column, value in filters.items():
            if value is not None:
                query = query.where(quotas.c[column] == value)
        if visible is not None:
            query = query.where(quotas.c.responsible_user_id.in_(visible))
        return await self.paginate(query, keys=[quotas.c.id], limit=limit, cursor=cursor, present=present)

    async def history(self, quota_id: uuid.UUID) -> list:
        return (await self.session.execute(select(quota_history).where(quota_history.c.quota_id == quota_id)
                                           .order_by(quota_history.c.id))).mappings().all()

    # ------------------------------------------------------------ who a quota can be split to
    async def active_direct_reports(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(users.c.id).where(users.c.superior_id == user_id,
                                                                         users.c.active.is_(True))
                                                .order_by(users.c.name))).all())

    async def active_sub_units(self, unit_id: uuid.UUID) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(org_units.c.id).where(org_units.c.parent_id == unit_id,
                                                                             org_units.c.active.is_(True))
                                                .order_by(org_units.c.name))).all())

    async def active_members(self, unit_id: uuid.UUID) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(users.c.id).where(users.c.org_unit_id == unit_id,
                                                                         users.c.active.is_(True))
                                                .order_by(users.c.name))).all())

    async def unit_path(self, unit_id: uuid.UUID) -> str | None:
        return await self.session.scalar(select(org_units.c.path).where(org_units.c.id == unit_id))

    async def placement_path(self, user_id: uuid.UUID) -> str | None:
        """The path of the unit the user is placed in."""
        return await self.session.scalar(select(org_units.c.path).select_from(
            users.join(org_units, users.c.org_unit_id == org_units.c.id)).where(users.c.id == user_id))

    # ----------------------------------------------------------------------------- attainment
    @staticmethod
    def user_scope(user_id: uuid.UUID, path: str | None):
        """The owners whose wins count for a person: themselves (no path), or their whole subtree."""
        if path is None:
            return select(users.c.id).where(users.c.id == user_id)
        return select(users.c.id).where(in_subtree(users.c.path, path))

    @staticmethod
    def unit_scope(path: str):
        """Everyone placed in the unit at `path` or any unit below it (by current placement)."""
        inside = select(org_units.c.id).where(in_subtree(org_units.c.path, path))
        return select(users.c.id).where(users.c.org_unit_id.in_(inside))

    async def won_by_currency(self, owners, start: dt.date, end: dt.date) -> dict[str, int]:
        rows = await self.session.execute(
            select(facts.c.currency, func.sum(facts.c.amount_cents))
            .where(facts.c.owner_id.in_(owners), facts.c.status == "won", facts.c.close_date >= start,
                   facts.c.close_date < end).group_by(facts.c.currency))
        return {currency: int(cents or 0) for currency, cents in rows.all()}

    async def pipeline_by_currency(self, owners, start: dt.date, end: dt.date) -> dict[str, tuple[int, int]]:
        rows = await self.session.execute(
            select(facts.c.currency, func.sum(facts.c.amount_cents),
                   func.sum(facts.c.amount_cents * facts.c.probability))
            .where(facts.c.owner_id.in_(owners), facts.c.status == "open", facts.c.close_date >= start,
                   facts.c.close_date < end).group_by(facts.c.currency))
        return {currency: (int(amount or 0), int(weighted or 0)) for currency, amount, weighted in rows.all()}

    async def direct_reports(self, user_id: uuid.UUID) -> list:
        """(id, name) of everyone reporting to the user, active or not, by name."""
        return (await self.session.execute(select(users.c.id, users.c.name).where(users.c.superior_id == user_id)
                                           .order_by(users.c.name))).all()
