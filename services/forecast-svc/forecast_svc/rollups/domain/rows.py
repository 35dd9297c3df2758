"""State → replica row, the one mapping the live consumer and a rebuild both use (pure).

A rebuild parses opportunity-svc's and team-svc's snapshot items into the same `OpportunityState`
and `UserState` the events carry, so it writes exactly the rows the event stream would have."""
from __future__ import annotations

import uuid

from kam_shared.events import UserState
from kam_shared.events.account import AccountState
from kam_shared.events.opportunity import OpportunityState
from kam_shared.events.team import AccountProfile, OrgUnitState, TerritoryRuleBook, TerritoryState
from kam_shared.money import to_cents


def fact_row(o: OpportunityState, probability: dict[int, int]) -> dict:
    """A fact from an opportunity's state; open pipeline is weighted with the replicated stage model."""
    return dict(id=o.id, account_id=o.account_id, owner_id=o.owner_id, amount_cents=to_cents(o.amount),
                currency=o.currency, close_date=o.close_date, stage=o.stage, status=o.status, version=o.version,
                confirmed=o.confirmed, category_override=o.forecast_category,
                probability=probability.get(o.stage, o.probability) if o.status == "open" else o.probability,
                updated_at=o.updated_at)


def user_row(state: UserState) -> dict:
    return dict(id=state.id, email=state.email, name=state.name, role=state.role, superior_id=state.superior_id,
                active=state.active, version=state.version)


def user_org_row(state: UserState) -> dict:
    return dict(id=state.id, org_unit_id=state.org_unit_id, version=state.version)


def org_unit_row(state: OrgUnitState) -> dict:
    return dict(id=state.id, name=state.name, kind=state.kind, parent_id=state.parent_id,
                manager_id=state.manager_id, active=state.active, version=state.version)


def territory_row(state: TerritoryState) -> dict:
    return dict(id=state.id, parent_id=state.parent_id, owner_id=state.owner_id, org_unit_id=state.org_unit_id,
                active=state.active, state=state.model_dump(mode="json"), version=state.version)


def profile_row(state: AccountState) -> dict:
    return dict(id=state.id, region=state.region, industry=state.industry, employees=state.employees,
                version=state.version)


def covering_territory(book: TerritoryRuleBook, profile) -> uuid.UUID | None:
    """The territory whose rule wins for an account profile row (None: no rule matches)."""
    match = book.match(AccountProfile(account_id=profile.id, region=profile.region, industry=profile.industry,
                                      employees=profile.employees))
    return match.territory.id if match else None


def rule_book(states: list[dict]) -> TerritoryRuleBook:
    return TerritoryRuleBook(TerritoryState.model_validate(s) for s in states)
