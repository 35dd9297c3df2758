"""Snapshot items (team-svc users, opportunity-svc opportunities) → replica rows. Pure."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from kam_shared.money import to_cents


def user_row(u: dict) -> dict:
    return dict(id=uuid.UUID(u["id"]), email=u["email"], name=u["name"], role=u["role"],
                superior_id=uuid.UUID(u["superior_id"]) if u.get("superior_id") else None,
                active=u.get("active", True), version=u["version"])


def fact_row(o: dict) -> dict:
    return dict(id=uuid.UUID(o["id"]), account_id=uuid.UUID(o["account_id"]), owner_id=uuid.UUID(o["owner_id"]),
                amount_cents=to_cents(Decimal(o["amount"])), currency=o["currency"],
                close_date=dt.date.fromisoformat(o["close_date"]), stage=o["stage"],
                probability=o["probability"], status=o["status"], version=o["version"],
                updated_at=dt.datetime.fromisoformat(o["updated_at"].replace("Z", "+00:00")),
                confirmed=bool(o.get("confirmed", False)), category_override=o.get("forecast_category"))


def stage_rows(stages: list[dict], model_version: int) -> list[dict]:
    """The open stages (1..7) of opportunity-svc's stage model, at the model's version."""
    return [dict(stage=s["number"], probability=s["probability"], version=model_version)
            for s in stages if s["number"] <= 7]


def stale_fact_ids(stored: list, in_snapshot: set, started: dt.datetime) -> list:
    """Facts the snapshot no longer holds that predate the rebuild (newer ones came by event)."""
    return [r.id for r in stored if r.id not in in_snapshot and r.updated_at < started]
