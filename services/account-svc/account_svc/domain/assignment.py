"""Who becomes the account manager (大客户经理) of a new account.

Every account has exactly one owner. The order: an owner named in the request, then team-svc's
territory rules, then — until team-svc publishes territory rules — the person who created the
account. `TerritoryRules` is the seam: a replica of team-svc's territory events will provide a
real implementation of `owner_for`; the use case does not change.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Assignment:
    owner_id: uuid.UUID
    rule: str  # "explicit" | "territory:<rule id>" | "creator"


class TerritoryRules(Protocol):
    def owner_for(self, profile: dict) -> Assignment | None:
        """The owner the territory rules give an account with this profile (region, industry, size)."""


class NoTerritoryRules:
    """team-svc does not publish territories yet: no rule ever matches."""

    def owner_for(self, profile: dict) -> Assignment | None:
        return None


def assign_owner(*, explicit_owner: uuid.UUID | None, creator: uuid.UUID, profile: dict,
                 rules: TerritoryRules) -> Assignment:
    if explicit_owner is not None:
        return Assignment(explicit_owner, "explicit")
    by_territory = rules.owner_for(profile)
    if by_territory is not None:
        return by_territory
    return Assignment(creator, "creator")
