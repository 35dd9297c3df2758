"""The user aggregate: a member of the sales organisation. Pure: records events, no I/O."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

from kam_shared.domain_errors import Conflict, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, UserCreated, UserState, UserUpdated

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("rep", "manager", "admin")


@dataclass(frozen=True)
class Placement:
    """Where a user sits, as far as the reporting-line rules care: their company (the root of
    their org unit, None when they belong to no unit) and whether they are active."""
    id: uuid.UUID
    company_id: uuid.UUID | None
    active: bool = True


def check_reporting_line(user_company: uuid.UUID | None, superior: Placement | None) -> None:
    """A reporting line never crosses companies; people outside any org unit (the bootstrap admin,
    users not placed yet) are not bound to a company."""
    if superior is None:
        return
    if not superior.active:
        raise ValidationProblem(f"superior {superior.id} is deactivated", field="superior_id")
    if user_company is not None and superior.company_id is not None and user_company != superior.company_id:
        raise ValidationProblem(f"superior {superior.id} belongs to another company than the user",
                                field="superior_id")


@dataclass
class User:
    id: uuid.UUID
    email: str
    name: str
    role: str
    superior_id: uuid.UUID | None
    password_hash: str
    active: bool = True
    version: int = 1
    org_unit_id: uuid.UUID | None = None
    title: str | None = None
    created_at: dt.datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, *, email: str, name: str, role: str, superior_id: uuid.UUID | None,
                 password_hash: str, org_unit_id: uuid.UUID | None = None, title: str | None = None) -> "User":
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise ValidationProblem("email is not a valid address", field="email")
        if role not in ROLES:
            raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
        if not name.strip():
            raise ValidationProblem("name must not be blank", field="name")
        user = cls(id=uuid.uuid4(), email=email, name=name.strip(), role=role, superior_id=superior_id,
                   password_hash=password_hash, org_unit_id=org_unit_id, title=_clean_title(title))
        user.events.append(DomainEvent("kam.team.user_created.v1", user.id, user.version,
                                       UserCreated(user=user.state())))
        return user

    def state(self) -> UserState:
        return UserState(id=self.id, email=self.email, name=self.name, role=self.role,
                         superior_id=self.superior_id, active=self.active, version=self.version,
                         org_unit_id=self.org_unit_id, title=self.title)


def _clean_title(title: str | None) -> str | None:
    return (" ".join(title.split()) or None) if title is not None else None


def change(user: User, *, name: str | None = None, role: str | None = None,
           superior_id: object = ..., active: bool | None = None, org_unit_id: object = ...,
           title: object = ..., chain_of_new_superior: list[uuid.UUID] = (),
           active_direct_reports: int = 0) -> dict:
    """Apply a partial update; returns {field: (before, after)} and records `user_updated`.

    `superior_id` / `org_unit_id` / `title` left as `...` mean "not changing" (None clears them).
    `chain_of_new_superior` is the new superior followed by everyone above them; the user
    appearing in it would make a cycle. `active_direct_reports` is how many active people report
    to the user: deactivating someone who still leads people would orphan their team.
    """
    changes = {**_identity_changes(user, name, role),
               **_placement_changes(user, superior_id, org_unit_id, title, chain_of_new_superior),
               **_active_change(user, active, active_direct_reports)}
    if changes:
        _record(user, changes)
    return changes


def _identity_changes(user: User, name: str | None, role: str | None) -> dict[str, tuple]:
    changes: dict[str, tuple] = {}
    if name is not None and name.strip() != user.name:
        if not name.strip():
            raise ValidationProblem("name must not be blank", field="name")
        changes["name"] = (user.name, name.strip())
    if role is not None and role != user.role:
        if role not in ROLES:
            raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
        changes["role"] = (user.role, role)
    return changes


def _placement_changes(user: User, superior_id: object, org_unit_id: object, title: object,
                       chain_of_new_superior: list[uuid.UUID]) -> dict[str, tuple]:
    changes: dict[str, tuple] = {}
    if superior_id is not ... and superior_id != user.superior_id:
        if superior_id == user.id or user.id in chain_of_new_superior:
            raise Conflict("that superior reports to this user: the hierarchy would have a cycle",
                           field="superior_id")
        changes["superior_id"] = (user.superior_id, superior_id)
    if org_unit_id is not ... and org_unit_id != user.org_unit_id:
        changes["org_unit_id"] = (user.org_unit_id, org_unit_id)
    if title is not ... and _clean_title(title) != user.title:
        changes["title"] = (user.title, _clean_title(title))
    return changes


def _active_change(user: User, active: bool | None, active_direct_reports: int) -> dict[str, tuple]:
    if active is None or active == user.active:
        return {}
    if not active and active_direct_reports:
        raise Conflict(f"{active_direct_reports} active people still report to this user; "
                       "move them to another superior first", field="active")
    return {"active": (user.active, active)}


def _record(user: User, changes: dict[str, tuple]) -> None:
    """Applies the changes, bumps the version and records `user_updated`."""
    for fieldname, (_, after) in changes.items():
        setattr(user, fieldname, after)
    user.version += 1
    user.events.append(DomainEvent("kam.team.user_updated.v1", user.id, user.version, UserUpdated(
        user=user.state(), changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()})))
