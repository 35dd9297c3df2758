"""The opportunity state history's rows (pure): each applied state, valid from its event's time,
with the state it replaced, so that every row is a self-contained delta of the roll-ups."""
from __future__ import annotations

import datetime as dt
import uuid

STATE = ("owner_id", "stage", "probability", "amount_cents", "currency", "close_date", "status",
         "category_override", "confirmed")


def history_row(fact: dict, valid_from: dt.datetime, prev: dict | None) -> dict:
    """One history row: the fact's roll-up-relevant state and, as prev_*, the one it replaced
    (with the instant that one was valid from: its `state_valid_from`). Dates `fact` (see dated)."""
    row = {"opportunity_id": fact["id"], "valid_from": valid_from, "version": fact["version"],
           **{k: fact.get(k) for k in STATE}}
    row["confirmed"] = bool(row["confirmed"])
    row.update({f"prev_{k}": (prev.get(k) if prev is not None else None) for k in STATE})
    row["prev_valid_from"] = prev.get("state_valid_from") if prev is not None else None
    if prev is not None:
        row["prev_confirmed"] = bool(prev.get("confirmed"))
    dated(fact, prev, valid_from)
    return row


def dated(fact: dict, prev: dict | None, valid_from: dt.datetime) -> dict:
    """`fact` as the state valid from `valid_from` that replaced `prev` (None: it replaced none):
    its `state_valid_from`, and its `created_valid_from` carried from `prev` or, when new, its own."""
    fact["state_valid_from"] = valid_from
    fact["created_valid_from"] = prev.get("created_valid_from") if prev is not None else valid_from
    return fact


def history_rows(old: dict | None, states: list[tuple[dt.datetime, dict]]) -> list[dict]:
    """The rows of one opportunity's run of states (time, fact row), applied after `old` (the
    fact before the run, or None): newer versions only, each once, in version order, each
    replacing the one before it."""
    rows, prev = [], old
    seen = old["version"] if old is not None else 0
    for time, fact in sorted(states, key=lambda s: s[1]["version"]):
        if fact["version"] <= seen:
            continue  # stale, replayed or a duplicate of the run
        rows.append(history_row(fact, time, prev))
        prev, seen = fact, fact["version"]
    return rows


def states_by_id(items) -> dict[uuid.UUID, list[tuple[dt.datetime, object]]]:
    """A run of (event time, opportunity state) → every state of each opportunity."""
    out: dict[uuid.UUID, list] = {}
    for time, state in items:
        out.setdefault(state.id, []).append((time, state))
    return out
