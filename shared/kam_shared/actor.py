"""Who is making the change now: the signed-in user of the request being handled.

Set by the auth dependency (`kam_shared.auth.current_principal`) and read when an event is made
(`DomainEvent.to_cloudevent` puts it in the CloudEvent's `actor` extension), so every event a
request causes names its actor without each use case passing it along. Outside a request (an
event handler, a start-up job) there is none: the payload's own `changed_by`/`created_by`/...
field, where it has one, names the actor instead.
"""
from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any

_actor: ContextVar[uuid.UUID | None] = ContextVar("kam_actor", default=None)

# Payload fields that name who made a change, in the order they are preferred.
ACTOR_FIELDS = ("changed_by", "created_by", "merged_by", "approved_by", "decided_by", "actor_id", "by")


def set_actor(user_id: uuid.UUID | None) -> None:
    _actor.set(user_id)


def current_actor() -> uuid.UUID | None:
    return _actor.get()


def actor_in(data: dict[str, Any]) -> str | None:
    """The actor a payload names itself (None when it names none)."""
    for name in ACTOR_FIELDS:
        value = data.get(name)
        if value:
            return str(value)
    return None


class ActorScope:
    """ASGI middleware: each request starts with no actor and leaves none behind, so an actor set by
    one request's auth dependency never names the author of anything done after it in the same task
    (an in-process client runs the app in the caller's task)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = _actor.set(None)
        try:
            await self.app(scope, receive, send)
        finally:
            _actor.reset(token)
