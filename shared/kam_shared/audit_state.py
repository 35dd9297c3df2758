"""The pure part of the audit trail: what state an event leaves its subject in, and the field
diff of two consecutive states (no database, no clock).

An event's `data` carries the aggregate's whole state after the change (DESIGN.md, Events): the
top-level object of `data` whose `id` is the event's subject (`account`, `plan`, `quota`, ...).
Events of subjects that are not such a record (the fiscal calendar, the stage model) keep the whole
`data` less what only describes the change (`changes`, the actor, the cause). A record's history is
then the diff of each state with the one before it: nested objects by dotted path, lists whole.
"""
from __future__ import annotations

import json
from typing import Any

from .actor import ACTOR_FIELDS, actor_in

# What describes a change rather than the state it leaves behind.
CHANGE_ONLY_FIELDS = frozenset({"changes", "cause", *ACTOR_FIELDS})
# Fields that change on every event (the entry itself says when) and say nothing a reader wants in a diff.
NOT_DIFFED = frozenset({"version", "updated_at"})


def state_of(data: dict[str, Any], subject: str) -> dict[str, Any]:
    """The subject's state in an event's data."""
    for value in data.values():
        if isinstance(value, dict) and str(value.get("id")) == subject:
            return value
    return {k: v for k, v in data.items() if k not in CHANGE_ONLY_FIELDS}


def flatten(state: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [1]} → {"a.b": 1, "c": [1]}: nested objects by dotted path, lists whole."""
    flat: dict[str, Any] = {}
    for key, value in state.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields that differ from `before` (None: the record's first event) to `after`, sorted by
    name, as {"field", "from", "to"}. A field missing on one side is null there; on a first event
    the fields that are null or empty are left out (nothing changed from nothing)."""
    return diff_flat(flatten(before) if before is not None else None, flatten(after))


def diff_flat(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """`diff` of two states already flattened (`flatten`), for a reader that walks consecutive states
    and so flattens each once. Only the changed fields are sorted: a history page diffs a hundred
    states of a few dozen fields each, of which one or two changed."""
    first, old = old is None, old or {}
    changed = [f for f, b in new.items() if f not in NOT_DIFFED and old.get(f) != b
               and not (first and b in (None, [], {}, ""))]
    # A field only `before` had is null after: a change unless it was null already.
    changed += [f for f, a in old.items() if f not in new and f not in NOT_DIFFED and a is not None]
    return [{"field": f, "from": old.get(f), "to": new.get(f)} for f in sorted(changed)]


def audit_row(event) -> dict[str, Any]:
    """The audit row of a CloudEvent (kam_shared.events.CloudEvent): written beside its outbox row."""
    data = event.data
    actor = getattr(event, "actor", None) or actor_in(data)
    return dict(event_id=event.id, subject=event.subject, event_type=event.type, sequence=event.sequence,
                actor_id=str(actor) if actor else None, at=event.time,
                state=json.dumps(state_of(data, event.subject), sort_keys=True, default=str))
