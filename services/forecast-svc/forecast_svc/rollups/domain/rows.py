"""State → replica row, the one mapping the live consumer and a rebuild both use (pure).

A rebuild parses opportunity-svc's and team-svc's snapshot items into the same `OpportunityState`
and `UserState` the events carry, so it writes exactly the rows the event stream would have."""
from __future__ import annotations

from kam_shared.events import UserState
from kam_shared.events.opportunity import OpportunityState
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
