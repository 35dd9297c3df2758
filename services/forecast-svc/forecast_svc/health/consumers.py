"""Handlers of the funnel-health and attainment slice: team-svc's quotas, replicated."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CloudEvent
from kam_shared.replicas import upsert_versioned

from .models import quota_replica
from .service import quota_row


async def apply_quota(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Every quota event carries the quota's full state after the change; the version guard keeps
    a redelivered or out-of-order event from overwriting a newer state. Attainment reads the
    replica at request time, so a new target or status shows at once."""
    await upsert_versioned(session, quota_replica, quota_row(payload.quota))


HANDLERS: dict = {f"kam.team.quota_{kind}.v1": apply_quota
                  for kind in ("created", "updated", "allocated", "submitted", "approved", "rejected", "revised")}
