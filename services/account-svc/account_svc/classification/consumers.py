"""The won-revenue read model: every opportunity event that carries the opportunity's state."""
from __future__ import annotations

from kam_shared.events import TOPICS
from kam_shared.events.opportunity import OpportunityState
from kam_shared.money import to_cents

from ..whitespace.consumers import WithFamilies
from .models import opportunity_replica


def _row(o: OpportunityState) -> dict:
    return dict(id=o.id, account_id=o.account_id, amount_cents=to_cents(o.amount), currency=o.currency,
                close_date=o.close_date, status=o.status, version=o.version,
                close_reason=o.close_reason, lost_to_competitor=o.lost_to_competitor)


# Keeps each opportunity's account, amount, currency, close date and status. Every event type on the
# topic that carries the state is followed — created, stage_changed and closed today, and whatever
# opportunity-svc adds (reopened, updated, owner_changed, ...) without a change here: one
# version-guarded upsert serves them all (a reopened opportunity stops counting as won; a re-pointed
# one moves). Skipping one would leave the replica stale until the next event of that opportunity.
# WithFamilies also keeps the product families of the lines for whitespace (whitespace/consumers.py).
OPPORTUNITIES = WithFamilies(opportunity_replica, TOPICS["opportunity"], "opportunity", OpportunityState, _row)
HANDLERS = OPPORTUNITIES.handlers()
