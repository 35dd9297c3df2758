"""Events account-svc consumes besides the user hierarchy (wired in kam_shared.app)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CATALOGUE, TOPICS, CloudEvent
from kam_shared.money import to_cents
from kam_shared.replicas import upsert_versioned

from .models import opportunity_replica, territory_replica


async def on_opportunity(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Any opportunity event: keep the opportunity's account, amount, currency, close date and status.
    Every one carries the full state and the opportunity's version, so one version-guarded upsert
    serves them all (a reopened opportunity stops counting as won; a re-pointed one moves)."""
    o = payload.opportunity
    await upsert_versioned(session, opportunity_replica, dict(
        id=o.id, account_id=o.account_id, amount_cents=to_cents(o.amount), currency=o.currency,
        close_date=o.close_date, status=o.status, version=o.version))


# Every opportunity event type that carries the opportunity's state — created, stage_changed and closed
# today, and whatever opportunity-svc adds (reopened, updated, owner_changed, ...) without a change here.
# Skipping one would leave the replica stale until the next event of that opportunity.
HANDLERS = {event_type: on_opportunity for event_type, spec in CATALOGUE.items()
            if spec.topic == TOPICS["opportunity"] and "opportunity" in spec.model.model_fields}


async def on_territory(session: AsyncSession, event: CloudEvent, payload) -> None:
    """A territory was created or changed (rules, owner, activation): keep its whole state."""
    t = payload.territory
    await upsert_versioned(session, territory_replica, dict(id=t.id, active=t.active, state=t.model_dump(mode="json"),
                                                            version=t.version))


HANDLERS["kam.team.territory_created.v1"] = HANDLERS["kam.team.territory_updated.v1"] = on_territory
