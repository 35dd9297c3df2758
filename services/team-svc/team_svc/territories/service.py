"""Use cases on territories and their rules, and the territory match."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.events.team import AccountProfile, TerritoryRuleBook, TerritoryRuleState, TerritoryState
from kam_shared.http import check_if_match

from ..common import paths
from ..common.hierarchy import Reader, active_user, move_subtree
from .domain import RuleRef, Territory, check_no_ambiguity, make_rule
from .models import territories
from .repository import Territories, rule_from_row

RULE_FIELDS = ("name", "priority", "regions", "industries", "size_bands", "account_ids")


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin can change territories and their rules")


def _territory_from_row(row, rules: list[TerritoryRuleState]) -> Territory:
    return Territory(id=row["id"], name=row["name"], parent_id=row["parent_id"], owner_id=row["owner_id"],
                     org_unit_id=row["org_unit_id"], description=row["description"], active=row["active"],
                     version=row["version"], rules=rules)


async def _load(session: AsyncSession, territory_id: uuid.UUID):
    repo = Territories(session)
    row = await repo.row(territory_id)
    if row is None:
        raise NotFound(f"territory {territory_id} not found")
    rules = (await repo.rules_by_territory([territory_id])).get(territory_id, [])
    return row, _territory_from_row(row, rules)


async def _lock_rule_set(session: AsyncSession) -> None:
    """Every territory change bumps the rule-set revision first: the row lock serialises rule-set
    changes across replicas (so the ambiguity check sees committed rules only), and the new
    revision tells every replica's rule-book cache it is stale."""
    await Territories(session).bump_revision()


async def _active_rule_refs(session: AsyncSession, exclude: uuid.UUID | None = None) -> list[RuleRef]:
    rows = await Territories(session).active_rule_rows(exclude)
    return [RuleRef(rule_from_row(r), r["territory_id"], r["territory_name"]) for r in rows]


async def _write_rules(session: AsyncSession, territory: Territory) -> None:
    await Territories(session).replace_rules(territory.id, territory.rules)


async def _check_refs(session: AsyncSession, *, owner_id=None, org_unit_id=None) -> None:
    if owner_id is not None:
        await active_user(session, owner_id, "owner_id")
    if org_unit_id is not None:
        active = await Territories(session).org_unit_active(org_unit_id)
        if active is None:
            raise ValidationProblem(f"org unit {org_unit_id} does not exist", field="org_unit_id")
        if not active:
            raise ValidationProblem(f"org unit {org_unit_id} is deactivated", field="org_unit_id")


async def _parent_path(session: AsyncSession, parent_id: uuid.UUID | None) -> str | None:
    if parent_id is None:
        return None
    row = await Territories(session).path_and_active(parent_id)
    if row is None:
        raise ValidationProblem(f"parent territory {parent_id} does not exist", field="parent_id")
    if not row.active:
        raise ValidationProblem(f"parent territory {parent_id} is deactivated", field="parent_id")
    return row.path


async def create_territory(uow: UnitOfWork, principal: Principal, *, name: str, parent_id: uuid.UUID | None,
                           owner_id: uuid.UUID, org_unit_id: uuid.UUID | None, description: str | None,
                           rules: list[dict]) -> dict:
    _require_admin(principal)
    session = uow.session
    await _lock_rule_set(session)
    await _check_refs(session, owner_id=owner_id, org_unit_id=org_unit_id)
    parent_path = await _parent_path(session, parent_id)
    made = [make_rule(**r) for r in rules]
    territory = Territory.create(name=name, parent_id=parent_id, owner_id=owner_id, org_unit_id=org_unit_id,
                                 description=description, rules=made)
    check_no_ambiguity([RuleRef(r, territory.id, territory.name) for r in made], await _active_rule_refs(session))
    now = utcnow()
    await Territories(session).add(dict(
        id=territory.id, name=territory.name, parent_id=parent_id, owner_id=owner_id, org_unit_id=org_unit_id,
        description=territory.description, path=paths.path_of(territory.id, parent_path), active=True,
        version=territory.version, created_at=now, updated_at=now))
    await _write_rules(session, territory)
    uow.publish(*territory.events)
    return await get_territory(session, territory.id)


async def _save(uow: UnitOfWork, territory: Territory, expected_version: int, *, rules_changed: bool) -> None:
    session = uow.session
    saved = await Territories(session).save(territory.id, expected_version, dict(
        name=territory.name, description=territory.description, owner_id=territory.owner_id,
        org_unit_id=territory.org_unit_id, parent_id=territory.parent_id, active=territory.active,
        version=territory.version, updated_at=utcnow()))
    if not saved:
        raise PreconditionFailed("territory changed concurrently; reload and retry")
    if rules_changed:
        await _write_rules(session, territory)
    uow.publish(*territory.events)


async def update_territory(uow: UnitOfWork, principal: Principal, territory_id: uuid.UUID, fields: dict,
                           if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    await _lock_rule_set(session)
    row, territory = await _load(session, territory_id)
    check_if_match(if_match, row["version"])
    await _check_refs(session, owner_id=fields.get("owner_id"), org_unit_id=fields.get("org_unit_id"))
    kwargs = {k: v for k, v in fields.items() if k in ("description", "org_unit_id", "parent_id")}
    if fields.get("name") is not None:
        kwargs["name"] = fields["name"]
    if fields.get("owner_id") is not None:
        kwargs["owner_id"] = fields["owner_id"]
    if fields.get("active") is not None:
        kwargs["active"] = fields["active"]
        if fields["active"] is False:
            kwargs["active_children"] = await Territories(session).active_children(territory.id)
    new_parent_path = None
    if "parent_id" in fields and fields["parent_id"] != territory.parent_id:
        new_parent_path = kwargs["parent_path"] = await _parent_path(session, fields["parent_id"])
    changes = territory.change(**kwargs)
    if not changes:
        return await get_territory(session, territory.id)
    if changes.get("active", (None, False))[1] is True:
        # Coming back: its rules rejoin the rule set and must not make it ambiguous.
        check_no_ambiguity([RuleRef(r, territory.id, territory.name) for r in territory.rules],
                           await _active_rule_refs(session, exclude=territory.id))
    if "parent_id" in changes:
        await move_subtree(session, territories, row["path"], paths.path_of(territory.id, new_parent_path))
    await _save(uow, territory, row["version"], rules_changed=False)
    return await get_territory(session, territory.id)


async def add_rule(uow: UnitOfWork, principal: Principal, territory_id: uuid.UUID, body: dict,
                   if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    await _lock_rule_set(session)
    row, territory = await _load(session, territory_id)
    check_if_match(if_match, row["version"])
    rule = make_rule(**body)
    if territory.active:
        check_no_ambiguity([RuleRef(rule, territory.id, territory.name)], await _active_rule_refs(session))
    territory.add_rule(rule)
    await _save(uow, territory, row["version"], rules_changed=True)
    return await get_territory(session, territory.id)


async def update_rule(uow: UnitOfWork, principal: Principal, territory_id: uuid.UUID, rule_id: uuid.UUID,
                      fields: dict, if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    await _lock_rule_set(session)
    row, territory = await _load(session, territory_id)
    check_if_match(if_match, row["version"])
    current = next((r for r in territory.rules if r.id == rule_id), None)
    if current is None:
        raise NotFound(f"rule {rule_id} is not a rule of territory {territory_id}")
    merged = {**{k: getattr(current, k) for k in RULE_FIELDS}, **{k: v for k, v in fields.items() if v is not None}}
    rule = make_rule(rule_id=rule_id, **merged)
    if territory.active:
        others = [ref for ref in await _active_rule_refs(session) if ref.rule.id != rule_id]
        check_no_ambiguity([RuleRef(rule, territory.id, territory.name)], others)
    if territory.replace_rule(rule):
        await _save(uow, territory, row["version"], rules_changed=True)
    return await get_territory(session, territory.id)


async def remove_rule(uow: UnitOfWork, principal: Principal, territory_id: uuid.UUID, rule_id: uuid.UUID,
                      if_match: str | None) -> dict:
    _require_admin(principal)
    session = uow.session
    await _lock_rule_set(session)
    row, territory = await _load(session, territory_id)
    check_if_match(if_match, row["version"])
    territory.remove_rule(rule_id)
    await _save(uow, territory, row["version"], rules_changed=True)
    return await get_territory(session, territory.id)


async def _names_on_path(session: AsyncSession, path: str) -> list[dict]:
    ids = paths.ids_on(path)
    names = await Territories(session).names(ids)
    return [{"id": i, "name": names.get(i)} for i in ids]


def _present(row, rules: list[TerritoryRuleState]) -> dict:
    return {**{k: row[k] for k in ("id", "name", "parent_id", "owner_id", "org_unit_id", "description", "active",
                                    "version", "created_at", "updated_at")},
            "rules": [r.model_dump() for r in rules]}


async def get_territory(session: AsyncSession, territory_id: uuid.UUID) -> dict:
    row, territory = await _load(session, territory_id)
    return {**_present(row, territory.rules), "path": await _names_on_path(session, row["path"])}


async def list_territories(session: AsyncSession, *, limit: int, cursor: str | None, active: bool | None,
                           parent_id: uuid.UUID | None, owner_id: uuid.UUID | None) -> dict:
    repo = Territories(session)
    page, next_cursor = await repo.page(limit=limit, cursor=cursor, active=active, parent_id=parent_id,
                                        owner_id=owner_id)
    rules = await repo.rules_by_territory([r["id"] for r in page])
    items = [_present(r, rules.get(r["id"], [])) for r in page]
    return {"items": items, "next_cursor": next_cursor}


# ------------------------------------------------------------------------------- matching


@dataclass
class CachedRuleBook:
    revision: int
    book: TerritoryRuleBook
    names: dict[uuid.UUID, str]
    parents: dict[uuid.UUID, uuid.UUID | None]

    def path_of(self, territory_id: uuid.UUID) -> list[dict]:
        chain = []
        current: uuid.UUID | None = territory_id
        while current is not None and len(chain) <= paths.MAX_DEPTH:
            chain.append({"id": current, "name": self.names.get(current)})
            current = self.parents.get(current)
        return chain[::-1]


async def rule_book(runtime: Runtime, session: Reader) -> CachedRuleBook:
    """The in-memory rule book, rebuilt only when the rule-set revision moved (any replica's change)."""
    repo = Territories(session)
    revision = await repo.revision()
    cached: CachedRuleBook | None = runtime.rule_book
    if cached is not None and cached.revision == revision:
        return cached
    rows = await repo.all_rows()
    rules = await repo.rules_by_territory()
    states = [TerritoryState(id=r["id"], name=r["name"], parent_id=r["parent_id"], owner_id=r["owner_id"],
                             org_unit_id=r["org_unit_id"], description=r["description"], active=r["active"],
                             version=r["version"], rules=rules.get(r["id"], [])) for r in rows]
    cached = CachedRuleBook(revision, TerritoryRuleBook(states), {r["id"]: r["name"] for r in rows},
                            {r["id"]: r["parent_id"] for r in rows})
    runtime.rule_book = cached
    return cached


def _rule_out(compiled) -> dict:
    return {"id": compiled.rule.id, "name": compiled.rule.name, "priority": compiled.rule.priority,
            "territory_id": compiled.territory.id, "territory_name": compiled.territory.name}


async def match(runtime: Runtime, session: Reader, profile: AccountProfile, *, explain: bool = True) -> dict:
    cached = await rule_book(runtime, session)
    found = cached.book.match(profile)
    if found is None:
        return {"matched": False, "owner_id": None, "territory": None, "rule": None, "checks": [],
                "explanation": f"no rule matches this account ({len(cached.book.rules)} active rules checked); "
                               "assign an owner by hand",
                "passed_over": [], "passed_over_count": len(cached.book.rules), "ruleset_revision": cached.revision}
    checks = found.rule.checks(profile)
    explanation = (f"rule {found.rule.rule.name!r} (priority {found.rule.rule.priority}) of territory "
                   f"{found.territory.name!r} matched: " + "; ".join(c.describe() for c in checks))
    passed = []
    if explain:
        for compiled in found.passed_over[:20]:
            failed = [c.describe() for c in compiled.checks(profile) if not c.ok]
            passed.append({**_rule_out(compiled), "failed_on": failed})
    return {"matched": True, "owner_id": found.owner_id,
            "territory": {"id": found.territory.id, "name": found.territory.name,
                          "path": cached.path_of(found.territory.id)},
            "rule": {**_rule_out(found.rule), **{k: getattr(found.rule.rule, k) for k in
                                                 ("regions", "industries", "size_bands", "account_ids")}},
            "checks": [{"criterion": c.criterion, "value": c.value, "accepted": list(c.accepted), "ok": c.ok}
                       for c in checks],
            "explanation": explanation, "passed_over": passed, "passed_over_count": len(found.passed_over),
            "ruleset_revision": cached.revision}


async def subtree_ids(session: AsyncSession, territory_id: uuid.UUID) -> list[uuid.UUID]:
    repo = Territories(session)
    path = await repo.path_of(territory_id)
    if path is None:
        raise NotFound(f"territory {territory_id} not found")
    return await repo.ids_in_subtree(path)
