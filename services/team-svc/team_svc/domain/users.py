"""The user aggregate: a member of the sales organisation. Pure: records events, no I/O."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

from kam_shared.errors import ValidationProblem
from kam_shared.events import DomainEvent, UserCreated, UserState

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
