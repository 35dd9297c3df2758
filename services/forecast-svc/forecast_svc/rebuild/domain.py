"""Snapshot items (team-svc users, opportunity-svc opportunities) → the states the events carry
(rows are made from those by rollups/domain/rows.py, as on the live path). Pure."""
from __future__ import annotations

import datetime as dt

from pydantic import ValidationError

from kam_shared.events import UserState
from kam_shared.events.opportunity import OpportunityState

from ..rollups.domain.history import history_row
from ..rollups.domain.rows import fact_row


def opportunity_state(item: dict) -> OpportunityState:
    """A snapshot item (opportunity-svc's list answer) as the state its events carry."""
    return OpportunityState.model_validate(item)


def user_state(item: dict) -> UserState:
    return UserState.model_validate(item)


def stage_probabilities(stages: list[dict]) -> dict[int, int]:
    return {s["number"]: s["probability"] for s in stages if s["number"] <= 7}


def stage_rows(stages: list[dict], model_version: int) -> list[dict]:
    """The open stages (1..7) of opportunity-svc's stage model, at the model's version."""
    return [dict(stage=s["number"], probability=s["probability"], version=model_version)
            for s in stages if s["number"] <= 7]


def stale_fact_ids(stored: list, in_snapshot: set, started: dt.datetime) -> list:
    """Facts the snapshot no longer holds that predate the rebuild (newer ones came by event)."""
    return [r.id for r in stored if r.id not in in_snapshot and r.updated_at < started]


def _reweighted(last: dict, time: dt.datetime, stage: int, probability: int) -> list[tuple]:
    """Open states in `stage` that a stage-model change re-weights (as the live path records it)."""
    return [(fact, {**fact, "probability": probability}) for fact in last.values()
            if fact["status"] == "open" and fact["stage"] == stage and fact["probability"] != probability]


def replay_history(events: list[tuple[dt.datetime, str, dict]]) -> tuple[list[dict], dt.datetime | None]:
    """The state history from the retained opportunity events (time, type, data), in event-time
    order, exactly as the live consumer writes it: each newer state of an opportunity replaces the
    one before (weighted with the stage model replayed so far), and a stage-model change re-weights
    the open states of its stages. Returns the rows and the horizon: the latest first retained
    event of an opportunity whose earlier events are gone (None when every opportunity's stream
    starts at its creation)."""
    rows: list[dict] = []
    last: dict = {}  # opportunity id → its latest replayed fact
    model: dict[int, int] = {}
    model_version = 0
    horizon = None
    for time, kind, data in sorted(events, key=lambda e: e[0]):
        if kind == "kam.opportunity.stage_model_changed.v1":
            if data.get("version", 0) <= model_version:
                continue
            model_version = data["version"]
            for stage in data.get("stages", []):
                number, probability = stage["number"], stage["probability"]
                if number > 7:
                    continue
                if model.get(number) != probability:
                    for prev, new in _reweighted(last, time, number, probability):
                        rows.append(history_row(new, time, prev))
                        last[new["id"]] = new
                model[number] = probability
            continue
        if "opportunity" not in data:
            continue
        try:
            state = OpportunityState.model_validate(data["opportunity"])
        except ValidationError:
            continue  # a payload the live consumer dead-letters: the replay skips it too
        fact = fact_row(state, model)
        prev = last.get(fact["id"])
        if prev is not None and prev["version"] >= fact["version"]:
            continue
        if prev is None and fact["version"] > 1:
            horizon = time if horizon is None else max(horizon, time)
        rows.append(history_row(fact, time, prev))
        last[fact["id"]] = fact
    return rows, horizon
