"""All SQL of the territories slice: territories, their rules, the rule set's revision.

The match runs on the autocommit connection of common.read_pool too, so `Territories` takes a
session or a connection there."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, update

from kam_shared.events import utcnow
from kam_shared.events.team import TerritoryRuleState
from kam_shared.repository import Repository

from ..common.hierarchy import in_subtree
from ..common.models import org_units
from .models import territories, territory_rules, territory_ruleset


def rule_from_row(row) -> TerritoryRuleState:
    return TerritoryRuleState(id=row["id"], name=row["name"], priority=row["priority"], regions=row["regions"],
                              industries=row["industries"], size_bands=row["size_bands"],
                              account_ids=[uuid.UUID(a) for a in row["account_ids"]])


class Territories(Repository):
    async def rules_by_territory(self, territory_ids=None) -> dict[uuid.UUID, list[TerritoryRuleState]]:
        query = select(territory_rules).order_by(territory_rules.c.priority, territory_rules.c.created_at,
                                                 territory_rules.c.id)
        if territory_ids is not None:
            query = query.where(territory_rules.c.territory_id.in_(list(territory_ids)))
        out: dict[uuid.UUID, list[TerritoryRuleState]] = {}
        for row in (await self.session.execute(query)).mappings().all():
            out.setdefault(row["territory_id"], []).append(rule_from_row(row))
        return out

    async def row(self, territory_id: uuid.UUID):
        return (await self.session.execute(select(territories).where(territories.c.id == territory_id))
                ).mappings().first()

    async def bump_revision(self) -> None:
        await self.session.execute(update(territory_ruleset).where(territory_ruleset.c.id == 1)
                                   .values(revision=territory_ruleset.c.revision + 1))

    async def revision(self) -> int | None:
        return await self.session.scalar(select(territory_ruleset.c.revision).where(territory_ruleset.c.id == 1))

    async def active_rule_rows(self, exclude: uuid.UUID | None = None) -> list:
        """Rules of active territories (with `territory_name`), except those of `exclude`."""
        query = (select(territory_rules, territories.c.name.label("territory_name"))
                 .join(territories, territories.c.id == territory_rules.c.territory_id)
                 .where(territories.c.active.is_(True)))
        if exclude is not None:
            query = query.where(territories.c.id != exclude)
        return (await self.session.execute(query)).mappings().all()

    async def replace_rules(self, territory_id: uuid.UUID, rules: list[TerritoryRuleState]) -> None:
        """The territory's rules become `rules`; a rule that stays keeps its created_at."""
        existing = dict((await self.session.execute(select(territory_rules.c.id, territory_rules.c.created_at).where(
            territory_rules.c.territory_id == territory_id))).all())
        await self.session.execute(delete(territory_rules).where(territory_rules.c.territory_id == territory_id))
        now = utcnow()
        if rules:
            await self.session.execute(insert(territory_rules), [
                dict(id=r.id, territory_id=territory_id, name=r.name, priority=r.priority, regions=r.regions,
                     industries=r.industries, size_bands=list(r.size_bands),
                     account_ids=[str(a) for a in r.account_ids], created_at=existing.get(r.id, now))
                for r in rules])

    async def org_unit_active(self, org_unit_id: uuid.UUID) -> bool | None:
        """None when the unit does not exist."""
        return await self.session.scalar(select(org_units.c.active).where(org_units.c.id == org_unit_id))

    async def path_and_active(self, territory_id: uuid.UUID):
        return (await self.session.execute(select(territories.c.path, territories.c.active)
                                           .where(territories.c.id == territory_id))).first()

    async def add(self, values: dict) -> None:
        await self.session.execute(insert(territories).values(**values))

    async def save(self, territory_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the territory is still at `expected_version`; False if it is not."""
        result = await self.session.execute(update(territories).where(
            territories.c.id == territory_id, territories.c.version == expected_version).values(**values))
        return result.rowcount == 1

    async def active_children(self, territory_id: uuid.UUID) -> int:
        return await self.session.scalar(select(func.count()).select_from(territories).where(
            territories.c.parent_id == territory_id, territories.c.active.is_(True)))

    async def names(self, territory_ids: list[uuid.UUID]) -> dict:
        return dict((await self.session.execute(select(territories.c.id, territories.c.name)
                                                .where(territories.c.id.in_(territory_ids)))).all())

    async def page(self, *, limit: int, cursor: str | None, active: bool | None, parent_id: uuid.UUID | None,
                   owner_id: uuid.UUID | None) -> tuple[list, str | None]:
        query = select(territories)
        for column, value in (("parent_id", parent_id), ("owner_id", owner_id)):
            if value is not None:
                query = query.where(territories.c[column] == value)
        if active is not None:
            query = query.where(territories.c.active.is_(active))
        return await self.paginate(query, keys=[territories.c.id], limit=limit, cursor=cursor)

    async def all_rows(self) -> list:
        return (await self.session.execute(select(territories))).mappings().all()

    async def path_of(self, territory_id: uuid.UUID) -> str | None:
        return await self.session.scalar(select(territories.c.path).where(territories.c.id == territory_id))

    async def ids_in_subtree(self, path: str) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(territories.c.id)
                                                .where(in_subtree(territories.c.path, path)))).all())
