"""Events of account-svc on `kam.account.events`."""
from __future__ import annotations

import uuid

from .base import TOPICS, EventSpec, Payload, register


class AccountState(Payload):
    id: uuid.UUID
    name: str
    credit_code: str | None = None
    industry: str | None = None
    region: str | None = None
    owner_id: uuid.UUID | None = None
    version: int


class AccountCreated(Payload):
    account: AccountState


class AccountMerged(Payload):
    """`merged_id` was a duplicate of `survivor_id`: everything that pointed at it now points at the
    survivor (opportunity-svc re-points its opportunities). `account` is the survivor after the merge.
    Keyed by the survivor id; a tombstone of the merged account stays in account-svc."""
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    account: AccountState
    merged_version: int


register(
    EventSpec("kam.account.created.v1", TOPICS["account"], AccountCreated, "An account was created."),
    EventSpec("kam.account.merged.v1", TOPICS["account"], AccountMerged,
              "A duplicate account was merged into a survivor; re-point anything that referenced merged_id."),
)
