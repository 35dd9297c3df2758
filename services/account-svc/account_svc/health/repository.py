"""All SQL of the health slice: the facts of one account (from the records, the won-opportunity
replica and the account), the stored health, and the model."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    String,
    Uuid,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)

from kam_shared.repository import Repository
from kam_shared.tables import UtcDateTime

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


class Facts(NamedTuple):
    """What scoring one account reads, in two statements (`HealthRepository.facts`)."""
    inputs: HealthInputs
    model: dict | None  # the health model row (weights, version, ...); None only before migration 0006
    stored: dict | None  # the stored health as it is now (not locked); None: never scored


# The columns of `_record_rows`: each record kind fills those it has, the rest are typed NULLs.
_ROW_COLUMNS = (("kind", String()), ("id", Uuid()), ("s1", String()), ("s2", String()), ("s3", String()),
                ("s4", String()), ("s5", String()), ("s6", String()), ("at", UtcDateTime()), ("day", Date()),
                ("cents", BigInteger()), ("actions", JSON()), ("flag", Boolean()))


def _record_select(kind: str, where, **columns):
    """One branch of `_record_rows`: `columns` by their _ROW_COLUMNS name. Only the NULLs are cast
    (PostgreSQL types a UNION's columns from them); a real column keeps its own type, uncast
    (SQLite would give a cast to DATETIME numeric affinity)."""
    values = [cast(literal(kind), String()).label("kind")]
    for name, type_ in _ROW_COLUMNS[1:]:
        value = columns.get(name)
        values.append((value if value is not None else cast(null(), type_)).label(name))
    return select(*values).where(*where)


def jsonable(value):
    """Parts as stored: decimals and dates as strings."""
    return json.loads(json.dumps(value, default=str))


class HealthRepository(Repository):
    # --- the facts --------------------------------------------------------------------------------

    async def inputs(self, account: dict, now: dt.datetime) -> HealthInputs:
        return (await self.facts(account, now)).inputs

    async def facts(self, account: dict, now: dt.datetime) -> Facts:
        """The account's facts, the model and the stored health in two statements, one row of
        scalars and one of the records (complaints, closed deals, plans, contacts): scoring is run
        at every health read, and at a few tenths of a millisecond of execution each, the nine
        separate queries it took cost their round trips, not their work."""
        scalars = (await self.session.execute(self._scalars(account, now))).mappings().one()
        complaints_, lost, won_count, plans_, contacts_ = [], [], 0, [], []
        for r in (await self.session.execute(self._record_rows(account["id"], now))).all():
            if r.kind == "complaint":
                complaints_.append(Complaint(str(r.id), r.s1, r.s2, r.s3, r.at))
            elif r.kind == "closed" and r.s1 == "won":
                won_count += 1
            elif r.kind == "closed":
                lost.append(LostDeal(str(r.id), r.day, int(r.cents), r.s2, r.s3, r.s4))
            elif r.kind == "plan":
                plans_.append(Plan(str(r.id), r.s1, r.s2, r.s3, tuple(r.actions or ())))
            else:
                contacts_.append(dict(id=r.id, name=r.s1, department=r.s2, level=r.s3, buying_role=r.s4,
                                      attitude=r.s5, relationship_strength=r.s6, active=r.flag))
        last = scalars["last_interaction_at"]
        if isinstance(last, dt.datetime) and last.tzinfo is None:  # SQLite's max() returns the stored text type
            last = last.replace(tzinfo=dt.timezone.utc)
        inputs = HealthInputs(
            tier=account["tier"], last_interaction_at=last,
            interactions_last_year=int(scalars["interactions_last_year"] or 0),
            open_complaints=tuple(complaints_), currency=account["currency"],
            won_cents_this_year=int(scalars["won_this_year"] or 0),
            won_cents_last_year=int(scalars["won_last_year"] or 0),
            won_count_last_year=won_count, lost=tuple(lost), contacts=tuple(contacts_), plans=tuple(plans_))
        model = None if scalars["model_version"] is None else dict(
            weights=scalars["weights"], version=scalars["model_version"], updated_by=scalars["model_updated_by"],
            updated_at=scalars["model_updated_at"])
        stored = None if scalars["stored_account_id"] is None else {c.name: scalars[f"stored_{c.name}"]
                                                        for c in account_health.columns}
        return Facts(inputs, model, stored)

    def _scalars(self, account: dict, now: dt.datetime):
        """One row: the interaction and won-revenue aggregates (scalar subqueries), the model and the
        stored health (outer joins, so the row exists without either)."""
        account_id, today = account["id"], now.date()
        since = now - dt.timedelta(days=LOOKBACK_DAYS)
        year_start = today.replace(month=1, day=1)

        def won(start: dt.date, end: dt.date):
            return select(func.coalesce(func.sum(opps.c.amount_cents), 0)).where(
                opps.c.status == "won", opps.c.account_id == account_id, opps.c.currency == account["currency"],
                opps.c.close_date >= start, opps.c.close_date <= end).scalar_subquery()

        one = select(literal(1).label("one")).subquery("one")
        return select(
            select(func.max(interactions.c.occurred_at)).where(interactions.c.account_id == account_id)
            .scalar_subquery().label("last_interaction_at"),
            select(func.count()).select_from(interactions).where(
                interactions.c.account_id == account_id, interactions.c.occurred_at >= since)
            .scalar_subquery().label("interactions_last_year"),
            won(year_start, today).label("won_this_year"),
            won(year_start.replace(year=year_start.year - 1), _same_day_last_year(today)).label("won_last_year"),
            health_model.c.weights, health_model.c.version.label("model_version"),
            health_model.c.updated_by.label("model_updated_by"), health_model.c.updated_at.label("model_updated_at"),
            *[c.label(f"stored_{c.name}") for c in account_health.columns],
        ).select_from(one.outerjoin(health_model, health_model.c.id == 1)
                      .outerjoin(account_health, account_health.c.account_id == account_id))

    def _record_rows(self, account_id: uuid.UUID, now: dt.datetime):
        """Open complaints, deals won or lost in the lookback, draft and active plans (current
        first) and active contacts, as one UNION ALL of typed rows tagged by kind."""
        since = now.date() - dt.timedelta(days=LOOKBACK_DAYS)
        c, o, p, k = complaints.c, opps.c, plans.c, contacts.c
        rows = union_all(
            _record_select("complaint", (c.account_id == account_id, c.status.in_(OPEN_COMPLAINT)),
                           id=c.id, s1=c.subject, s2=c.severity, s3=c.status, at=c.raised_at),
            _record_select("closed", (o.status.in_(("won", "lost")), o.account_id == account_id,
                                            o.close_date >= since),
                           id=o.id, s1=o.status, s2=o.currency, s3=o.lost_to_competitor, s4=o.close_reason,
                           day=o.close_date, cents=o.amount_cents),
            _record_select("plan", (p.account_id == account_id, p.status.in_(CURRENT_PLAN)),
                           id=p.id, s1=p.title, s2=p.status, s3=p.relationship_stage, at=p.updated_at,
                           actions=p.actions),
            _record_select("contact", (k.account_id == account_id, k.active.is_(True)),
                           id=k.id, s1=k.name, s2=k.department, s3=k.level, s4=k.buying_role, s5=k.attitude,
                           s6=k.relationship_strength, flag=k.active),
        )
        # Plans current first, as the stage part takes the first active one (the others' order is
        # irrelevant to the score but fixed, so equal facts give equal stored parts).
        return rows.order_by(rows.selected_columns.kind, rows.selected_columns.at.desc(), rows.selected_columns.id)

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
