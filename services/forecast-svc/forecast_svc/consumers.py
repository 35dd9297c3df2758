"""Event handlers that keep forecast-svc's read models current."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CloudEvent
from kam_shared.money import to_cents
from kam_shared.replicas import upsert_versioned

from .models import opportunity_facts


async def apply_opportunity(session: AsyncSession, event: CloudEvent, payload) -> None:
    """created / stage_changed / closed all carry the full state after the change."""
    o = payload.opportunity
    await upsert_versioned(session, opportunity_facts, dict(
        id=o.id, account_id=o.account_id, owner_id=o.owner_id, amount_cents=to_cents(o.amount),
        currency=o.currency, close_date=o.close_date, stage=o.stage, probability=o.probability,
        status=o.status, version=o.version, updated_at=o.updated_at))


HANDLERS = {
    "kam.opportunity.created.v1": apply_opportunity,
    "kam.opportunity.stage_changed.v1": apply_opportunity,
    "kam.opportunity.closed.v1": apply_opportunity,
}
