"""A replica of another service's aggregate, declared once and used by the consumer and by rebuild.

A `ReadModel` names its table, the state it copies (`OpportunityState` from the payload field
`opportunity`, say) and how one state becomes one row. The event types it follows are read from
the event catalogue: every type on the topic whose payload carries that state, so an event type
added later is followed without a change. The live path (`handlers()`, one event at a time) and a
rebuild (`apply_states()`, a snapshot page at a time) call the same `to_row`, so they cannot
disagree about what a row holds.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from .events import CATALOGUE, CloudEvent
from .replicas import upsert_versioned, upsert_versioned_many


@dataclass(frozen=True)
class ReadModel:
    table: Table
    topic: str
    state_field: str
    state_model: type[BaseModel]
    to_row: Callable[[Any], dict]

    def event_types(self) -> list[str]:
        """Every catalogued type on the topic whose payload carries the whole state."""
        return [spec.type for spec in CATALOGUE.values()
                if spec.topic == self.topic and self._carries_state(spec.model)]

    def _carries_state(self, payload_model: type[BaseModel]) -> bool:
        field = payload_model.model_fields.get(self.state_field)
        return field is not None and field.annotation is self.state_model

    async def apply(self, session: AsyncSession, state: Any) -> bool:
        """One state, version-guarded: False when the row already holds this version or a newer one."""
        return await upsert_versioned(session, self.table, self.to_row(state))

    async def apply_states(self, session: AsyncSession, states: Iterable[Any]) -> int:
        """Many states (a rebuild's snapshot page), the same rows the live path would write."""
        rows = [self.to_row(state) for state in states]
        await upsert_versioned_many(session, self.table, rows)
        return len(rows)

    async def on_event(self, session: AsyncSession, event: CloudEvent, payload: Any) -> None:
        await self.apply(session, getattr(payload, self.state_field))

    def handlers(self) -> dict[str, Callable]:
        return {event_type: self.on_event for event_type in self.event_types()}
