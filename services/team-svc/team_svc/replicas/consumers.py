"""Replicas of other services' data, fed by their events (idempotent: inbox + version guard).

* opportunity_facts from every `kam.opportunity.*` event that carries the full opportunity state
  (created, stage_changed, closed today; reopened / updated / owner_changed when opportunity-svc
  publishes them): closed-won revenue for attainment and payouts, open pipeline for the
  expected incentive cost and the capacity view.
* account_facts from every `kam.account.*` event that carries the full account state: the
  capacity view (accounts per territory and per person). A merge marks the merged account.

The handler lists are built from the event catalogue, so a new event type that carries the
state is applied without a change here.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CATALOGUE, TOPICS, CloudEvent
from kam_shared.events.account import AccountState
from kam_shared.events.opportunity import OpportunityState
from kam_shared.money import to_cents

from .repository import Replicas


async def apply_opportunity(session: AsyncSession, event: CloudEvent, payload) -> None:
    o = payload.opportunity
    await Replicas(session).put_opportunity(dict(
        id=o.id, account_id=o.account_id, owner_id=o.owner_id, amount_cents=to_cents(o.amount), currency=o.currency,
        close_date=o.close_date, stage=o.stage, probability=o.probability, status=o.status, version=o.version,
        updated_at=o.updated_at))


def _account_values(a: AccountState) -> dict:
    return dict(id=a.id, name=a.name, owner_id=a.owner_id, region=a.region, industry=a.industry,
                employees=getattr(a, "employees", None), merged_into=getattr(a, "merged_into_id", None),
                version=a.version)


async def apply_account(session: AsyncSession, event: CloudEvent, payload) -> None:
    replicas = Replicas(session)
    await replicas.put_account(_account_values(payload.account))
    merged = getattr(payload, "merged_account", None)
    if merged is not None:
        await replicas.put_account(_account_values(merged))
    elif getattr(payload, "merged_id", None) is not None:
        # An older merged event without the tombstone's state: mark the merged account directly.
        await replicas.mark_merged(payload.merged_id, payload.account.id)


def _carries(spec, field: str, model) -> bool:
    annotation = spec.model.model_fields.get(field)
    return annotation is not None and annotation.annotation is model


def handlers() -> dict:
    found = {}
    for spec in CATALOGUE.values():
        if spec.topic == TOPICS["opportunity"] and _carries(spec, "opportunity", OpportunityState):
            found[spec.type] = apply_opportunity
        elif spec.topic == TOPICS["account"] and _carries(spec, "account", AccountState):
            found[spec.type] = apply_account
    return found
