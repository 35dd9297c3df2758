"""All SQL of the health slice: the facts of one account (from the records, the won-opportunity
replica and the account), the stored health, and the model."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import func, select, update

from kam_shared.repository import Repository

from ..accounts.models import accounts
from ..classification.models import opportunity_replica as opps
from ..records.models import complaints, contacts, interactions, plans
from .domain import LOOKBACK_DAYS, Complaint, HealthInputs, LostDeal, Plan
from .models import account_health, health_model

OPEN_COMPLAINT = ("open", "in_progress")
CURRENT_PLAN = ("draft", "active")


def _same_day_last_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def jsonable(value):
    """Parts as stored: decimals and dates as strings."""
    return json.loads(json.dumps(value, default=str))


class HealthRepository(Repository):
    # --- the facts --------------------------------------------------------------------------------

    async def _interactions(self, account_id: uuid.UUID, since: dt.datetime) -> tuple[dt.datetime | None, int]:
        last = await self.session.scalar(select(func.max(interactions.c.occurred_at))
                                         .where(interactions.c.account_id == account_id))
        count = await self.session.scalar(select(func.count()).select_from(interactions).where(
            interactions.c.account_id == account_id, interactions.c.occurred_at >= since))
        if isinstance(last, dt.datetime) and last.tzinfo is None:  # SQLite's max() returns the stored text type
            last = last.replace(tzinfo=dt.timezone.utc)
        return last, int(count or 0)

    async def _complaints(self, account_id: uuid.UUID) -> tuple[Complaint, ...]:
        rows = (await self.session.execute(select(
            complaints.c.id, complaints.c.subject, complaints.c.severity, complaints.c.status, complaints.c.raised_at)
            .where(complaints.c.account_id == account_id, complaints.c.status.in_(OPEN_COMPLAINT)))).all()
        return tuple(Complaint(str(r.id), r.subject, r.severity, r.status, r.raised_at) for r in rows)

    async def _won(self, account_id: uuid.UUID, currency: str, start: dt.date, end: dt.date) -> int:
        return int(await self.session.scalar(select(func.coalesce(func.sum(opps.c.amount_cents), 0)).where(
            opps.c.status == "won", opps.c.account_id == account_id, opps.c.currency == currency,
            opps.c.close_date >= start, opps.c.close_date <= end)) or 0)

    async def _closed(self, account_id: uuid.UUID, since: dt.date) -> tuple[int, tuple[LostDeal, ...]]:
        rows = (await self.session.execute(select(
            opps.c.id, opps.c.status, opps.c.close_date, opps.c.amount_cents, opps.c.currency,
            opps.c.lost_to_competitor, opps.c.close_reason)
            .where(opps.c.status.in_(("won", "lost")), opps.c.account_id == account_id,
                   opps.c.close_date >= since))).all()
        lost = tuple(LostDeal(str(r.id), r.close_date, int(r.amount_cents), r.currency, r.lost_to_competitor,
                              r.close_reason) for r in rows if r.status == "lost")
        return sum(1 for r in rows if r.status == "won"), lost

    async def _plans(self, account_id: uuid.UUID) -> tuple[Plan, ...]:
        rows = (await self.session.execute(select(
            plans.c.id, plans.c.title, plans.c.status, plans.c.relationship_stage, plans.c.actions)
            .where(plans.c.account_id == account_id, plans.c.status.in_(CURRENT_PLAN))
            .order_by(plans.c.updated_at.desc(), plans.c.id))).all()
        return tuple(Plan(str(r.id), r.title, r.status, r.relationship_stage, tuple(r.actions or ())) for r in rows)

    async def _contacts(self, account_id: uuid.UUID) -> tuple[dict, ...]:
        rows = (await self.session.execute(select(
            contacts.c.id, contacts.c.name, contacts.c.department, contacts.c.level, contacts.c.buying_role,
            contacts.c.attitude, contacts.c.relationship_strength, contacts.c.active)
            .where(contacts.c.account_id == account_id, contacts.c.active.is_(True)))).mappings().all()
        return tuple(dict(r) for r in rows)

    async def inputs(self, account: dict, now: dt.datetime) -> HealthInputs:
        account_id, today = account["id"], now.date()
        last, count = await self._interactions(account_id, now - dt.timedelta(days=LOOKBACK_DAYS))
        year_start = today.replace(month=1, day=1)
        last_year_end = _same_day_last_year(today)
        won_count, lost = await self._closed(account_id, today - dt.timedelta(days=LOOKBACK_DAYS))
        return HealthInputs(
            tier=account["tier"], last_interaction_at=last, interactions_last_year=count,
            open_complaints=await self._complaints(account_id), currency=account["currency"],
            won_cents_this_year=await self._won(account_id, account["currency"], year_start, today),
            won_cents_last_year=await self._won(account_id, account["currency"], year_start.replace(
                year=year_start.year - 1), last_year_end),
            won_count_last_year=won_count, lost=lost, contacts=await self._contacts(account_id),
            plans=await self._plans(account_id))

    # --- the stored health ------------------------------------------------------------------------

    async def account(self, account_id: uuid.UUID):
        return (await self.session.execute(select(
            accounts.c.id, accounts.c.owner_id, accounts.c.tier, accounts.c.currency, accounts.c.merged_into_id)
            .where(accounts.c.id == account_id))).mappings().first()

    async def stored(self, account_id: uuid.UUID, *, lock: bool = False):
        query = select(account_health).where(account_health.c.account_id == account_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def store(self, account_id: uuid.UUID, values: dict) -> None:
        """Insert or replace the stored health, and the score and band on the account (for the list)."""
        await self.upsert(account_health, dict(account_id=account_id, **values), key=["account_id"])
        await self.session.execute(update(accounts).where(accounts.c.id == account_id)
                                   .values(health_score=values["score"], health_band=values["band"]))

    async def touch(self, account_id: uuid.UUID, now: dt.datetime) -> None:
        await self.session.execute(update(account_health).where(account_health.c.account_id == account_id)
                                   .values(computed_at=now))

    async def stored_page(self, *, after: uuid.UUID | None, limit: int, older_than: dt.datetime | None = None):
        """Stored health rows in account order, one batch (a model change re-weights them all)."""
        query = select(account_health, accounts.c.owner_id).join(accounts, accounts.c.id == account_health.c.account_id)
        if after is not None:
            query = query.where(account_health.c.account_id > after)
        if older_than is not None:
            query = query.where(account_health.c.computed_at < older_than)
        return list((await self.session.execute(query.order_by(account_health.c.account_id).limit(limit)))
                    .mappings().all())

    async def never_scored(self, *, limit: int) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(accounts.c.id).where(
            accounts.c.health_band.is_(None), accounts.c.merged_into_id.is_(None)).order_by(accounts.c.id)
            .limit(limit))).all())

    # --- the model --------------------------------------------------------------------------------

    async def model(self, *, lock: bool = False):
        query = select(health_model).where(health_model.c.id == 1)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def save_model(self, weights: dict, version: int, *, by: uuid.UUID, now: dt.datetime) -> None:
        await self.upsert(health_model, dict(id=1, weights=weights, version=version, updated_by=by, updated_at=now),
                          key=["id"])
