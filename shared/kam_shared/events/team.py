"""Events of team-svc on `kam.team.events`: the sales organisation and its hierarchy."""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from .base import TOPICS, EventSpec, FieldChange, Payload, register


class UserState(Payload):
    id: uuid.UUID
    email: str
    name: str
    role: Literal["rep", "manager", "admin"]
    superior_id: uuid.UUID | None
    active: bool = True
    version: int


class UserCreated(Payload):
    user: UserState


class UserUpdated(Payload):
    user: UserState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


register(
    EventSpec("kam.team.user_created.v1", TOPICS["team"], UserCreated, "A user joined the sales organisation."),
    EventSpec("kam.team.user_updated.v1", TOPICS["team"], UserUpdated,
              "A user's name, role, superior (hierarchy move) or active flag changed; carries the full state "
              "and each change as {from, to}."),
)
