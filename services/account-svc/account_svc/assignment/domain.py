"""Who becomes the account manager (大客户经理) of a new account.

Every account has exactly one owner. The order: an owner named in the request, then team-svc's
territory rules (区域负责范围和分派规则, from the replica of its territory events), then the
person who created the account.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from kam_shared.events.team import AccountProfile, TerritoryRuleBook, TerritoryState


@dataclass(frozen=True)
class Assignment:
    owner_id: uuid.UUID
    rule: str  # "explicit" | "territory:<rule id>" | "creator"


class TerritoryRules(Protocol):
    def owner_for(self, profile: dict) -> Assignment | None:
        """The owner the territory rules give an account with this profile (region, industry, size)."""


class NoTerritoryRules:
    """No territory known: no rule ever matches."""

    def owner_for(self, profile: dict) -> Assignment | None:
        return None


class ReplicatedTerritoryRules:
    """team-svc's rule book (the same `TerritoryRuleBook` team-svc evaluates), over the replica."""

    def __init__(self, territories: list[TerritoryState]):
        self.book = TerritoryRuleBook(territories)

    def owner_for(self, profile: dict) -> Assignment | None:
        match = self.book.match(AccountProfile(region=profile.get("region"), industry=profile.get("industry"),
                                               employees=profile.get("employees")))
        if match is None:
            return None
        return Assignment(match.owner_id, f"territory:{match.rule.rule.id}")


def assign_owner(*, explicit_owner: uuid.UUID | None, creator: uuid.UUID, profile: dict,
                 rules: TerritoryRules) -> Assignment:
    if explicit_owner is not None:
        return Assignment(explicit_owner, "explicit")
    by_territory = rules.owner_for(profile)
    if by_territory is not None:
        return by_territory
    return Assignment(creator, "creator")
