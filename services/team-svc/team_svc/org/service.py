"""Use cases on org units and the organisation tree."""
from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.http import check_if_match
from kam_shared.repository import Repository, for_update

from ..common import paths
from ..common.hierarchy import active_user, company_of_unit, in_subtree, lock_tree, log_changes, move_subtree
from ..users.models import users
from .domain import OrgUnit, ParentFacts
from .models import org_units

UNIT_COLUMNS = [org_units.c.id, org_units.c.name, org_units.c.kind, org_units.c.parent_id, org_units.c.company_id,
                org_units.c.manager_id, org_units.c.active, org_units.c.version, org_units.c.created_at,
                org_units.c.updated_at]


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin can shape the organisation")


async def _unit_row(session: AsyncSession, unit_id: uuid.UUID, *, lock: bool = False):
    query = select(org_units).where(org_units.c.id == unit_id)
    if lock:
        query = for_update(query, session)
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"org unit {unit_id} not found")
    return row


async def _parent_facts(session: AsyncSession, parent_id: uuid.UUID | None) -> ParentFacts | None:
    if parent_id is None:
        return None
    row = (await session.execute(select(org_units.c.id, org_units.c.company_id, org_units.c.active, org_units.c.path)
                                 .where(org_units.c.id == parent_id))).mappings().first()
    if row is None:
        raise ValidationProblem(f"parent unit {parent_id} does not exist", field="parent_id")
    return ParentFacts(**row)


async def _check_sibling_name(session: AsyncSession, parent_id: uuid.UUID | None, name: str,
                              unit_id: uuid.UUID | None = None) -> None:
    query = select(org_units.c.id).where(func.lower(org_units.c.name) == name.lower(), org_units.c.active.is_(True))
    query = query.where(org_units.c.parent_id == parent_id if parent_id else org_units.c.parent_id.is_(None))
    if unit_id is not None:
        query = query.where(org_units.c.id != unit_id)
    if await session.scalar(query.limit(1)):
        raise Conflict(f"another active unit under the same parent is already called {name!r}", field="name")


async def _check_manager(session: AsyncSession, manager_id: uuid.UUID | None, company_id: uuid.UUID) -> None:
    if manager_id is None:
        return
    row = await active_user(session, manager_id, "manager_id")
    manager_company = await company_of_unit(session, row["org_unit_id"])
    if manager_company is not None and manager_company != company_id:
        raise ValidationProblem(f"manager {manager_id} belongs to another company", field="manager_id")


async def create_org_unit(uow: UnitOfWork, principal: Principal, *, name: str, kind: str,
                          parent_id: uuid.UUID | None, manager_id: uuid.UUID | None) -> dict:
    _require_admin(principal)
    session = uow.session
    await lock_tree(session, "org_units")
    parent = await _parent_facts(session, parent_id)
    unit = OrgUnit.create(name=name, kind=kind, parent=parent, manager_id=manager_id)
    await _check_manager(session, manager_id, unit.company_id)
    await _check_sibling_name(session, unit.parent_id, unit.name)
    now = utcnow()
    await session.execute(insert(org_units).values(
        **unit.state().model_dump(), path=paths.path_of(unit.id, parent.path if parent else None),
        created_at=now, updated_at=now))
    await log_changes(session, "org_unit", unit.events, principal.user_id)
    uow.publish(*unit.events)
    return await get_org_unit(session, unit.id)


def _unit_from_row(row) -> OrgUnit:
    return OrgUnit(id=row["id"], name=row["name"], kind=row["kind"], parent_id=row["parent_id"],
                   company_id=row["company_id"], manager_id=row["manager_id"], active=row["active"],
                   version=row["version"])


async def _count_crossing_lines(session: AsyncSession, unit_path: str) -> int:
    """Active reporting lines between people inside the unit's subtree and placed people outside it."""
    inside = select(org_units.c.id).where(in_subtree(org_units.c.path, unit_path))
    sub, sup = aliased(users), aliased(users)
    edges = select(func.count()).select_from(sub.join(sup, sub.c.superior_id == sup.c.id)).where(
        sub.c.active.is_(True), sup.c.active.is_(True), sub.c.org_unit_id.is_not(None), sup.c.org_unit_id.is_not(None))
    up = await session.scalar(edges.where(sub.c.org_unit_id.in_(inside), sup.c.org_unit_id.not_in(inside)))
    down = await session.scalar(edges.where(sup.c.org_unit_id.in_(inside), sub.c.org_unit_id.not_in(inside)))
    return (up or 0) + (down or 0)


async def update_org_unit(uow: UnitOfWork, principal: Principal, unit_id: uuid.UUID, fields: dict,
                          if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    if "parent_id" in fields:
        await lock_tree(session, "org_units")
    row = await _unit_row(session, unit_id, lock=True)
    check_if_match(if_match, row["version"])
    unit = _unit_from_row(row)
    kwargs: dict = {}
    if "name" in fields and fields["name"] is not None:
        kwargs["name"] = fields["name"]
    if "manager_id" in fields:
        kwargs["manager_id"] = fields["manager_id"]
    new_parent: ParentFacts | None = None
    if "parent_id" in fields:
        new_parent = await _parent_facts(session, fields["parent_id"])
        kwargs["parent"] = new_parent
    if fields.get("active") is not None:
        kwargs["active"] = fields["active"]
        if fields["active"] is False and unit.active:
            kwargs["active_children"] = await session.scalar(select(func.count()).select_from(org_units).where(
                org_units.c.parent_id == unit.id, org_units.c.active.is_(True)))
            kwargs["active_members"] = await session.scalar(select(func.count()).select_from(users).where(
                users.c.org_unit_id == unit.id, users.c.active.is_(True)))
        if fields["active"] is True and not unit.active and unit.parent_id is not None:
            kwargs["parent_active"] = bool(await session.scalar(select(org_units.c.active).where(
                org_units.c.id == (new_parent.id if new_parent else unit.parent_id))))
    changes = unit.change(**kwargs)
    if not changes:
        return await get_org_unit(session, unit.id)
    if {"name", "parent_id"} & changes.keys() or ("active" in changes and unit.active):
        await _check_sibling_name(session, unit.parent_id, unit.name, unit.id)
    events = list(unit.events)
    if "parent_id" in changes:
        if "company_id" in changes and await _count_crossing_lines(session, row["path"]):
            raise ValidationProblem("people in this unit report to (or lead) people of its current company; a "
                                    "reporting line cannot cross companies", field="parent_id")
        new_path = paths.path_of(unit.id, new_parent.path if new_parent else None)
        await move_subtree(session, org_units, row["path"], new_path)
        if "company_id" in changes:
            events += await _follow_company(session, new_path, unit)
    result = await session.execute(update(org_units).where(org_units.c.id == unit.id,
                                                           org_units.c.version == row["version"])
                                   .values(**{k: getattr(unit, k) for k in changes}, version=unit.version,
                                           updated_at=utcnow()))
    if result.rowcount != 1:
        raise PreconditionFailed("org unit changed concurrently; reload and retry")
    if "manager_id" in changes or "company_id" in changes:
        # After the move: a manager placed inside the moved units has moved company with them.
        await _check_manager(session, unit.manager_id, unit.company_id)
    await log_changes(session, "org_unit", events, principal.user_id)
    uow.publish(*events)
    return await get_org_unit(session, unit.id)


async def _follow_company(session: AsyncSession, root_path: str, root: OrgUnit) -> list:
    """Every unit below a unit that changed company changes company too, each with its own event."""
    rows = (await session.execute(select(org_units).where(in_subtree(org_units.c.path, root_path),
                                                          org_units.c.id != root.id)
                                  .order_by(org_units.c.path))).mappings().all()
    events = []
    for row in rows:
        descendant = _unit_from_row(row)
        if descendant.follow_company(root.company_id):
            await session.execute(update(org_units).where(org_units.c.id == descendant.id).values(
                company_id=descendant.company_id, version=descendant.version, updated_at=utcnow()))
            events += descendant.events
    return events


async def get_org_unit(session: AsyncSession, unit_id: uuid.UUID) -> dict:
    row = (await session.execute(select(*UNIT_COLUMNS, org_units.c.path).where(org_units.c.id == unit_id))
           ).mappings().first()
    if row is None:
        raise NotFound(f"org unit {unit_id} not found")
    out = {c.name: row[c.name] for c in UNIT_COLUMNS}
    out["depth"] = paths.depth(row["path"])
    out["member_count"] = await session.scalar(select(func.count()).select_from(users).where(
        users.c.org_unit_id == unit_id, users.c.active.is_(True)))
    return out


async def list_org_units(session: AsyncSession, *, limit: int, cursor: str | None, parent_id: uuid.UUID | None,
                         company_id: uuid.UUID | None, active: bool | None) -> dict:
    query = select(*UNIT_COLUMNS)
    if parent_id is not None:
        query = query.where(org_units.c.parent_id == parent_id)
    if company_id is not None:
        query = query.where(org_units.c.company_id == company_id)
    if active is not None:
        query = query.where(org_units.c.active.is_(active))
    items, next_cursor = await Repository(session).paginate(query, keys=[org_units.c.id], limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


async def org_tree(session: AsyncSession, *, root_id: uuid.UUID | None, include_users: bool,
                   include_inactive: bool) -> dict:
    """Units nested under their parents (each with its members); people in no unit listed apart."""
    query = select(*UNIT_COLUMNS, org_units.c.path).order_by(org_units.c.path)
    if root_id is not None:
        root_path = await session.scalar(select(org_units.c.path).where(org_units.c.id == root_id))
        if root_path is None:
            raise NotFound(f"org unit {root_id} not found")
        query = query.where(in_subtree(org_units.c.path, root_path))
    if not include_inactive:
        query = query.where(org_units.c.active.is_(True))
    rows = (await session.execute(query)).mappings().all()
    nodes: dict[uuid.UUID, dict] = {}
    roots: list[dict] = []
    for row in rows:  # path order: a parent always comes before its children
        node = {**{c.name: row[c.name] for c in UNIT_COLUMNS if c.name not in ("created_at", "updated_at")},
                "members": [], "children": []}
        nodes[row["id"]] = node
        parent = nodes.get(row["parent_id"])
        (parent["children"] if parent is not None else roots).append(node)
    unplaced: list[dict] = []
    if include_users:
        people = select(users.c.id, users.c.name, users.c.email, users.c.role, users.c.title, users.c.superior_id,
                        users.c.org_unit_id, users.c.active).order_by(users.c.name, users.c.id)
        if not include_inactive:
            people = people.where(users.c.active.is_(True))
        if root_id is not None:
            people = people.where(users.c.org_unit_id.in_(list(nodes)))
        for person in (await session.execute(people)).mappings().all():
            entry = {k: person[k] for k in ("id", "name", "email", "role", "title", "superior_id", "active")}
            unit = nodes.get(person["org_unit_id"])
            if unit is not None:
                unit["members"].append(entry)
            elif person["org_unit_id"] is None:
                unplaced.append(entry)
    return {"roots": roots, "unplaced_users": unplaced, "unit_count": len(nodes)}
