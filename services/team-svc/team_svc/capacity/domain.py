"""Capacity arithmetic: accounts and open pipeline counted per territory and per person, rolled up
the territory tree (pure: no database, no clock)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from kam_shared.money import from_cents


def cell() -> dict:
    return {"accounts": 0, "open_count": 0, "open_cents": 0, "weighted_x100": 0}


def tally(accounts: Iterable, pipeline: Iterable, territory_of: dict[uuid.UUID, uuid.UUID | None]
          ) -> tuple[dict[uuid.UUID | None, dict], dict[uuid.UUID | None, dict]]:
    """Accounts and open pipeline per territory (None = unassigned) and per owner."""
    per_territory: dict[uuid.UUID | None, dict] = defaultdict(cell)
    per_person: dict[uuid.UUID | None, dict] = defaultdict(cell)
    for account in accounts:
        per_territory[territory_of[account["id"]]]["accounts"] += 1
        per_person[account["owner_id"]]["accounts"] += 1
    for account_id, owner_id, count, cents, weighted in pipeline:
        for bucket in (per_territory[territory_of.get(account_id)], per_person[owner_id]):
            bucket["open_count"] += count
            bucket["open_cents"] += int(cents or 0)
            bucket["weighted_x100"] += int(weighted or 0)
    return per_territory, per_person


def rolled(per_territory: dict, children: dict[uuid.UUID, list], territory_id) -> dict:
    """A territory's cell plus those of every territory below it."""
    total = dict(per_territory.get(territory_id, cell()))
    for child in children.get(territory_id, []):
        sub = rolled(per_territory, children, child)
        for k in total:
            total[k] += sub[k]
    return total


def shape(c: dict) -> dict:
    return {"accounts": c["accounts"], "open_count": c["open_count"],
            "open_pipeline_amount": from_cents(c["open_cents"]),
            "weighted_pipeline_amount": (Decimal(c["weighted_x100"]) / 10000).quantize(Decimal("0.01"))}
