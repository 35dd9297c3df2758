"""Org units: company → business unit → region → team (any depth, any of the kinds below a
company). Pure: validates and records events; the service supplies what it looked up."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kam_shared.domain_errors import Conflict, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.team import OrgUnitCreated, OrgUnitMoved, OrgUnitState, OrgUnitUpdated

KINDS = ("company", "business_unit", "region", "team", "department")


@dataclass(frozen=True)
class ParentFacts:
    id: uuid.UUID
    company_id: uuid.UUID
    active: bool
    path: str


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationProblem("name must not be blank", field="name")
    return name


def _check_parent(kind: str, parent: ParentFacts | None) -> None:
    if kind == "company" and parent is not None:
        raise ValidationProblem("a company is the top of its organisation and has no parent", field="parent_id")
    if kind != "company" and parent is None:
        raise ValidationProblem(f"a {kind} needs a parent unit (only a company stands alone)", field="parent_id")
    if parent is not None and not parent.active:
        raise ValidationProblem(f"parent unit {parent.id} is deactivated", field="parent_id")


@dataclass
class OrgUnit:
    id: uuid.UUID
    name: str
    kind: str
    parent_id: uuid.UUID | None
    company_id: uuid.UUID
    manager_id: uuid.UUID | None = None
    active: bool = True
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, *, name: str, kind: str, parent: ParentFacts | None,
               manager_id: uuid.UUID | None = None) -> "OrgUnit":
        if kind not in KINDS:
            raise ValidationProblem(f"kind must be one of {', '.join(KINDS)}", field="kind")
        _check_parent(kind, parent)
        unit_id = uuid.uuid4()
        unit = cls(id=unit_id, name=_clean_name(name), kind=kind, parent_id=parent.id if parent else None,
                   company_id=parent.company_id if parent else unit_id, manager_id=manager_id)
        unit.events.append(DomainEvent("kam.team.org_unit_created.v1", unit.id, unit.version,
                                       OrgUnitCreated(org_unit=unit.state())))
        return unit

    def state(self) -> OrgUnitState:
        return OrgUnitState(id=self.id, name=self.name, kind=self.kind, parent_id=self.parent_id,
                            company_id=self.company_id, manager_id=self.manager_id, active=self.active,
                            version=self.version)

    def _record(self, changes: dict[str, tuple], moved_from: object = ...) -> None:
        for name, (_, after) in changes.items():
            setattr(self, name, after)
        self.version += 1
        fc = {k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()}
        if moved_from is not ...:
            self.events.append(DomainEvent("kam.team.org_unit_moved.v1", self.id, self.version, OrgUnitMoved(
                org_unit=self.state(), from_parent_id=moved_from, to_parent_id=self.parent_id, changes=fc)))
        else:
            self.events.append(DomainEvent("kam.team.org_unit_updated.v1", self.id, self.version,
                                           OrgUnitUpdated(org_unit=self.state(), changes=fc)))

    def change(self, *, name: str | None = None, manager_id: object = ..., active: bool | None = None,
               parent: object = ..., active_children: int = 0, active_members: int = 0,
               parent_active: bool = True) -> dict:
        """Rename, change manager, (de)activate and/or move under `parent` (ParentFacts, or None for
        a company). Records one event: `org_unit_moved` when the parent changed, else `org_unit_updated`."""
        changes: dict[str, tuple] = {}
        if name is not None and _clean_name(name) != self.name:
            changes["name"] = (self.name, _clean_name(name))
        if manager_id is not ... and manager_id != self.manager_id:
            changes["manager_id"] = (self.manager_id, manager_id)
        moved_from: object = ...
        if parent is not ... and (parent.id if parent else None) != self.parent_id:
            _check_parent(self.kind, parent)
            if parent is not None and f"/{self.id.hex}/" in parent.path:
                raise Conflict("that unit is inside this one: the org tree would have a cycle", field="parent_id")
            moved_from = self.parent_id
            changes["parent_id"] = (self.parent_id, parent.id if parent else None)
            new_company = parent.company_id if parent else self.id
            if new_company != self.company_id:
                changes["company_id"] = (self.company_id, new_company)
        if active is not None and active != self.active:
            if not active and (active_children or active_members):
                raise Conflict(f"unit still has {active_children} active sub-units and {active_members} active "
                               "members; move or deactivate them first", field="active")
            if active and not parent_active:
                raise ValidationProblem("its parent unit is deactivated; reactivate the parent first", field="active")
            changes["active"] = (self.active, active)
        if not changes:
            return {}
        self._record(changes, moved_from)
        return changes

    def follow_company(self, company_id: uuid.UUID) -> bool:
        """An ancestor moved to another company: this unit's company changes with it."""
        if company_id == self.company_id:
            return False
        self._record({"company_id": (self.company_id, company_id)})
        return True
