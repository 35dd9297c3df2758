"""The account aggregate. Pure: validates and records events, no I/O."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kam_shared.errors import ValidationProblem
from kam_shared.events import AccountCreated, AccountState, DomainEvent


@dataclass
class Account:
    id: uuid.UUID
    name: str
    credit_code: str | None
    industry: str | None
    region: str | None
    owner_id: uuid.UUID | None
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, *, name: str, credit_code: str | None, industry: str | None, region: str | None,
             owner_id: uuid.UUID | None) -> "Account":
        name = " ".join(name.split())
        if not name:
            raise ValidationProblem("name must not be blank", field="name")
        if credit_code is not None:
            credit_code = credit_code.strip().upper() or None
        account = cls(id=uuid.uuid4(), name=name, credit_code=credit_code, industry=industry, region=region,
                      owner_id=owner_id)
        account.events.append(DomainEvent("kam.account.created.v1", account.id, account.version,
                                          AccountCreated(account=account.state())))
        return account

    def state(self) -> AccountState:
        return AccountState(id=self.id, name=self.name, credit_code=self.credit_code, industry=self.industry,
                            region=self.region, owner_id=self.owner_id, version=self.version)
