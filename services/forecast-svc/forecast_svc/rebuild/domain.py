"""Snapshot items (team-svc users, opportunity-svc opportunities) → the states the events carry
(rows are made from those by rollups/domain/rows.py, as on the live path). Pure."""
from __future__ import annotations

import datetime as dt

from kam_shared.events import UserState
from kam_shared.events.opportunity import OpportunityState


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
