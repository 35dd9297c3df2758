"""The user aggregate: a member of the sales organisation. Pure: records events, no I/O."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

from kam_shared.errors import Conflict, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, UserCreated, UserState, UserUpdated

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("rep", "manager", "admin")


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
    created_at: dt.datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, *, email: str, name: str, role: str, superior_id: uuid.UUID | None,
                 password_hash: str) -> "User":
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise ValidationProblem("email is not a valid address", field="email")
        if role not in ROLES:
            raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
        if not name.strip():
            raise ValidationProblem("name must not be blank", field="name")
        user = cls(id=uuid.uuid4(), email=email, name=name.strip(), role=role, superior_id=superior_id,
                   password_hash=password_hash)
        user.events.append(DomainEvent("kam.team.user_created.v1", user.id, user.version,
                                       UserCreated(user=user.state())))
        return user

    def state(self) -> UserState:
        return UserState(id=self.id, email=self.email, name=self.name, role=self.role,
                         superior_id=self.superior_id, active=self.active, version=self.version)


def change(user: User, *, name: str | None = None, role: str | None = None,
           superior_id: object = ..., active: bool | None = None,
           chain_of_new_superior: list[uuid.UUID] = ()) -> dict:
    """Apply a partial update; returns {field: (before, after)} and records `user_updated`.

    `superior_id` left as `...` means "not changing" (None means "make top-level").
    `chain_of_new_superior` is the new superior followed by everyone above them; the user
    appearing in it would make a cycle.
    """
    changes: dict[str, tuple] = {}
    if name is not None and name.strip() != user.name:
        if not name.strip():
            raise ValidationProblem("name must not be blank", field="name")
        changes["name"] = (user.name, name.strip())
    if role is not None and role != user.role:
        if role not in ROLES:
            raise ValidationProblem(f"role must be one of {', '.join(ROLES)}", field="role")
        changes["role"] = (user.role, role)
    if superior_id is not ... and superior_id != user.superior_id:
        if superior_id == user.id or user.id in chain_of_new_superior:
            raise Conflict("that superior reports to this user: the hierarchy would have a cycle",
                           field="superior_id")
        changes["superior_id"] = (user.superior_id, superior_id)
    if active is not None and active != user.active:
        changes["active"] = (user.active, active)
    if not changes:
        return {}
    for fieldname, (_, after) in changes.items():
        setattr(user, fieldname, after)
    user.version += 1
    user.events.append(DomainEvent("kam.team.user_updated.v1", user.id, user.version, UserUpdated(
        user=user.state(), changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()})))
    return changes
