"""The records kept per account — contacts, competitor entries, plans, interactions, complaints.

Each is its own small aggregate (own id and version, own events keyed by its id), so two people
editing two contacts of one account never collide. They share one lifecycle: created with values,
changed field by field with {from, to}, moved to the survivor when their account is merged.
Kind-specific rules (the complaint status flow, plan action ids) are applied by `prepare`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from kam_shared.domain_errors import ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, Payload
from kam_shared.events import account as ev

from . import complaints


@dataclass(frozen=True)
class Kind:
    name: str                 # contact | competitor | plan | interaction | complaint
    state: type[Payload]
    created: tuple[str, type[Payload]]
    updated: tuple[str, type[Payload]]
    required_text: tuple[str, ...]   # must not be blank
    json_fields: tuple[str, ...] = ()  # stored as JSON (lists of objects or ids)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("contact", ev.ContactState, ("kam.account.contact_added.v1", ev.ContactAdded),
         ("kam.account.contact_updated.v1", ev.ContactUpdated), ("name",)),
    Kind("competitor", ev.CompetitorState, ("kam.account.competitor_added.v1", ev.CompetitorAdded),
         ("kam.account.competitor_updated.v1", ev.CompetitorUpdated), ("competitor",)),
    Kind("plan", ev.PlanState, ("kam.account.plan_created.v1", ev.PlanCreated),
         ("kam.account.plan_updated.v1", ev.PlanUpdated), ("title", "period"),
         ("objectives", "coverage", "actions", "sponsor_meetings")),
    Kind("interaction", ev.InteractionState, ("kam.account.interaction_logged.v1", ev.InteractionLogged),
         ("kam.account.interaction_updated.v1", ev.InteractionUpdated), ("subject",),
         ("our_attendee_ids", "contact_ids")),
    Kind("complaint", ev.ComplaintState, ("kam.account.complaint_raised.v1", ev.ComplaintRaised),
         ("kam.account.complaint_updated.v1", ev.ComplaintUpdated), ("subject",)),
)}


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


def prepare(kind: Kind, current: dict, values: dict, now: dt.datetime) -> dict:
    """Canonical values for a create (current = {}) or a change: text trimmed, required text present,
    JSON fields in their stored form, kind rules applied."""
    out = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = value.strip() or None
        if name in kind.required_text and value is None:
            raise ValidationProblem(f"{name} must not be blank", field=name)
        if name in kind.json_fields:
            value = jsonable(value or [])
        out[name] = value
    for name in kind.required_text:
        if not current and name not in out:
            raise ValidationProblem(f"{name} is required", field=name)
    if kind.name == "plan" and "actions" in out:
        out["actions"] = [{**a, "id": a.get("id") or str(uuid.uuid4())} for a in out["actions"]]
        ids = [a["id"] for a in out["actions"]]
        if len(ids) != len(set(ids)):
            raise ValidationProblem("two actions have the same id", field="actions")
    if kind.name == "complaint":
        out = complaints.apply_status(current, out, now)
    return out


@dataclass
class Record:
    kind: Kind
    id: uuid.UUID
    account_id: uuid.UUID
    values: dict
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, kind: Kind, account_id: uuid.UUID, values: dict, *, by: uuid.UUID | None,
               now: dt.datetime) -> "Record":
        record = cls(kind, uuid.uuid4(), account_id, prepare(kind, {}, values, now))
        event_type, model = kind.created
        record.events.append(DomainEvent(event_type, record.id, record.version,
                                         model(**{kind.name: record.state()}, changed_by=by)))
        return record

    def state(self) -> Payload:
        return self.kind.state(id=self.id, account_id=self.account_id, version=self.version, **self.values)

    def update(self, values: dict, *, by: uuid.UUID | None, now: dt.datetime,
               cause: str = "update") -> dict[str, FieldChange]:
        """Apply the fields sent; nothing different → no version, no event."""
        values = prepare(self.kind, self.values, values, now)
        changes = {}
        for name, value in values.items():
            before = self.values.get(name)
            if jsonable(before) != jsonable(value):
                changes[name] = FieldChange(before=jsonable(before), after=jsonable(value))
                self.values[name] = value
        if changes:
            self._changed(changes, by, cause)
        return changes

    def move_to(self, account_id: uuid.UUID, *, by: uuid.UUID | None) -> None:
        """Its account was merged into `account_id`."""
        changes = {"account_id": FieldChange(before=str(self.account_id), after=str(account_id))}
        self.account_id = account_id
        self._changed(changes, by, "merge")

    def _changed(self, changes: dict[str, FieldChange], by: uuid.UUID | None, cause: str) -> None:
        self.version += 1
        event_type, model = self.kind.updated
        self.events.append(DomainEvent(event_type, self.id, self.version, model(
            **{self.kind.name: self.state()}, changes=changes, cause=cause, changed_by=by)))
