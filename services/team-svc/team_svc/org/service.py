"""Use cases on org units and the organisation tree."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.http import check_if_match

from ..common import paths
from ..common.hierarchy import active_user, company_of_unit, lock_tree, log_changes, move_subtree
from ..common.models import org_units
from .domain import OrgUnit, ParentFacts
from .repository import UNIT_COLUMNS, OrgUnits


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin can shape the organisation")


async def _unit_row(repo: OrgUnits, unit_id: uuid.UUID, *, lock: bool = False):
    row = await repo.row(unit_id, lock=lock)
    if row is None:
        raise NotFound(f"org unit {unit_id} not found")
    return row


async def _parent_facts(repo: OrgUnits, parent_id: uuid.UUID | None) -> ParentFacts | None:
    if parent_id is None:
        return None
    row = await repo.parent_facts(parent_id)
    if row is None:
        raise ValidationProblem(f"parent unit {parent_id} does not exist", field="parent_id")
    return ParentFacts(**row)


async def _check_sibling_name(repo: OrgUnits, parent_id: uuid.UUID | None, name: str,
                              unit_id: uuid.UUID | None = None) -> None:
    if await repo.active_sibling_named(parent_id, name, unit_id):
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
    repo = OrgUnits(session)
    await lock_tree(session, "org_units")
    parent = await _parent_facts(repo, parent_id)
    unit = OrgUnit.create(name=name, kind=kind, parent=parent, manager_id=manager_id)
    await _check_manager(session, manager_id, unit.company_id)
    await _check_sibling_name(repo, unit.parent_id, unit.name)
    now = utcnow()
    await repo.add(dict(**unit.state().model_dump(), path=paths.path_of(unit.id, parent.path if parent else None),
                        created_at=now, updated_at=now))
    await log_changes(session, "org_unit", unit.events, principal.user_id)
    uow.publish(*unit.events)
    return await get_org_unit(session, unit.id)


def _unit_from_row(row) -> OrgUnit:
    return OrgUnit(id=row["id"], name=row["name"], kind=row["kind"], parent_id=row["parent_id"],
                   company_id=row["company_id"], manager_id=row["manager_id"], active=row["active"],
                   version=row["version"])


async def update_org_unit(uow: UnitOfWork, principal: Principal, unit_id: uuid.UUID, fields: dict,
                          if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    repo = OrgUnits(session)
    if "parent_id" in fields:
        await lock_tree(session, "org_units")
    row = await _unit_row(repo, unit_id, lock=True)
    check_if_match(if_match, row["version"])
    unit = _unit_from_row(row)
    kwargs, new_parent = await _change_arguments(repo, unit, fields)
    changes = unit.change(**kwargs)
    if not changes:
        return await get_org_unit(session, unit.id)
    if {"name", "parent_id"} & changes.keys() or ("active" in changes and unit.active):
        await _check_sibling_name(repo, unit.parent_id, unit.name, unit.id)
    events = list(unit.events)
    if "parent_id" in changes:
        events += await _move(repo, unit, row["path"], new_parent, changes)
    if not await repo.save(unit.id, row["version"], {**{k: getattr(unit, k) for k in changes},
                                                     "version": unit.version, "updated_at": utcnow()}):
        raise PreconditionFailed("org unit changed concurrently; reload and retry")
    if "manager_id" in changes or "company_id" in changes:
        # After the move: a manager placed inside the moved units has moved company with them.
        await _check_manager(session, unit.manager_id, unit.company_id)
    await log_changes(session, "org_unit", events, principal.user_id)
    uow.publish(*events)
    return await get_org_unit(session, unit.id)


async def _change_arguments(repo: OrgUnits, unit: OrgUnit, fields: dict) -> tuple[dict, ParentFacts | None]:
    """The arguments of `OrgUnit.change` for a PATCH body, with the facts the rules need; and the new parent."""
    kwargs: dict = {}
    if "name" in fields and fields["name"] is not None:
        kwargs["name"] = fields["name"]
    if "manager_id" in fields:
        kwargs["manager_id"] = fields["manager_id"]
    new_parent: ParentFacts | None = None
    if "parent_id" in fields:
        new_parent = await _parent_facts(repo, fields["parent_id"])
        kwargs["parent"] = new_parent
    if fields.get("active") is not None:
        kwargs["active"] = fields["active"]
        kwargs.update(await _activation_facts(repo, unit, fields["active"], new_parent))
    return kwargs, new_parent


async def _activation_facts(repo: OrgUnits, unit: OrgUnit, active: bool, new_parent: ParentFacts | None) -> dict:
    """Deactivating needs the active children and members; reactivating, whether the parent is active."""
    if active is False and unit.active:
        return {"active_children": await repo.active_children(unit.id),
                "active_members": await repo.active_members(unit.id)}
    if active is True and not unit.active and unit.parent_id is not None:
        return {"parent_active": await repo.is_active(new_parent.id if new_parent else unit.parent_id)}
    return {}


async def _move(repo: OrgUnits, unit: OrgUnit, old_path: str, new_parent: ParentFacts | None,
                changes: dict) -> list:
    """Re-roots the unit's subtree under its new parent; the units below follow a change of company.
    Returns the events of the units that followed."""
    if "company_id" in changes and await repo.crossing_lines(old_path):
        raise ValidationProblem("people in this unit report to (or lead) people of its current company; a "
                                "reporting line cannot cross companies", field="parent_id")
    new_path = paths.path_of(unit.id, new_parent.path if new_parent else None)
    await move_subtree(repo.session, org_units, old_path, new_path)
    if "company_id" in changes:
        return await _follow_company(repo, new_path, unit)
    return []


async def _follow_company(repo: OrgUnits, root_path: str, root: OrgUnit) -> list:
    """Every unit below a unit that changed company changes company too, each with its own event."""
    events = []
    for row in await repo.descendants(root_path, root.id):
        descendant = _unit_from_row(row)
        if descendant.follow_company(root.company_id):
            await repo.set_company(descendant.id, dict(company_id=descendant.company_id, version=descendant.version,
                                                       updated_at=utcnow()))
            events += descendant.events
    return events


async def get_org_unit(session: AsyncSession, unit_id: uuid.UUID) -> dict:
    repo = OrgUnits(session)
    row = await repo.public_row(unit_id)
    if row is None:
        raise NotFound(f"org unit {unit_id} not found")
    out = {c.name: row[c.name] for c in UNIT_COLUMNS}
    out["depth"] = paths.depth(row["path"])
    out["member_count"] = await repo.active_members(unit_id)
    return out


async def list_org_units(session: AsyncSession, *, limit: int, cursor: str | None, parent_id: uuid.UUID | None,
                         company_id: uuid.UUID | None, active: bool | None) -> dict:
    items, next_cursor = await OrgUnits(session).page(limit=limit, cursor=cursor, parent_id=parent_id,
                                                      company_id=company_id, active=active)
    return {"items": items, "next_cursor": next_cursor}


async def org_tree(session: AsyncSession, *, root_id: uuid.UUID | None, include_users: bool,
                   include_inactive: bool) -> dict:
    """Units nested under their parents (each with its members); people in no unit listed apart."""
    repo = OrgUnits(session)
    root_path = None
    if root_id is not None:
        root_path = await repo.path_of(root_id)
        if root_path is None:
            raise NotFound(f"org unit {root_id} not found")
    nodes, roots = _nest(await repo.tree_units(root_path, include_inactive=include_inactive))
    unplaced: list[dict] = []
    if include_users:
        people = await repo.tree_people(list(nodes) if root_id is not None else None,
                                        include_inactive=include_inactive)
        unplaced = _place_members(nodes, people)
    return {"roots": roots, "unplaced_users": unplaced, "unit_count": len(nodes)}


def _nest(rows) -> tuple[dict[uuid.UUID, dict], list[dict]]:
    nodes: dict[uuid.UUID, dict] = {}
    roots: list[dict] = []
    for row in rows:  # path order: a parent always comes before its children
        node = {**{c.name: row[c.name] for c in UNIT_COLUMNS if c.name not in ("created_at", "updated_at")},
                "members": [], "children": []}
        nodes[row["id"]] = node
        parent = nodes.get(row["parent_id"])
        (parent["children"] if parent is not None else roots).append(node)
    return nodes, roots


def _place_members(nodes: dict[uuid.UUID, dict], people) -> list[dict]:
    """Adds each person to their unit's members; returns the people placed in no unit."""
    unplaced: list[dict] = []
    for person in people:
        entry = {k: person[k] for k in ("id", "name", "email", "role", "title", "superior_id", "active")}
        unit = nodes.get(person["org_unit_id"])
        if unit is not None:
            unit["members"].append(entry)
        elif person["org_unit_id"] is None:
            unplaced.append(entry)
    return unplaced
