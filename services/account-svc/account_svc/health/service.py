"""Use cases of account health: score one account (stored, refreshed at read), recompute after an
input changed (in the input's own transaction), the at-risk view's data, and the admin's model.

When the score is recomputed:
* in the same transaction as any write to an input: an interaction, complaint, plan or contact
  logged or changed, the account created, classified (the tier sets the interaction norm) or merged
  (`recompute_after`, run by the unit of work before it commits), and a won/lost opportunity
  arriving in the replica (`consumers.py`, in the consumer's inbox transaction);
* at read: `GET /v1/accounts/{id}/health` computes with `now` and stores the result when it differs,
  so time-based parts (recency ageing, complaint age, overdue actions) are current whenever read.
  The read itself runs without a transaction (facts in two statements); only a result that differs
  from the stored one opens a unit of work, which scores again under the stored row's lock;
* by `POST /v1/health-model/recompute` (admin, meant for a periodic job): accounts never scored or
  last computed before `stale_hours`, so ageing reaches the at-risk list for accounts nobody opens;
* on a model change: every stored score is re-weighted from its stored part scores (no re-read).
`kam.account.health_changed.v1` is published only when the band moves (not on the first score)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.account import AccountHealthChanged, HealthModelChanged, HealthModelState, HealthPartState
from kam_shared.http import check_if_match

from ..accounts.service import visible_account
from .domain import (
    DEFAULT_WEIGHTS,
    HEALTHY,
    PARTS,
    TIER_NORMS,
    TITLES,
    WATCH,
    Health,
    check_weights,
    score_health,
    with_weights,
)
from .repository import HealthRepository, jsonable

HEALTH_MODEL_KEY = "health-model"
BATCH = 500
# Events whose write changes an input of the account's health (the record's or the account's id).
INPUT_EVENTS = {"kam.account.created.v1", "kam.account.classified.v1", "kam.account.merged.v1",
                "kam.account.interaction_logged.v1", "kam.account.interaction_updated.v1",
                "kam.account.complaint_raised.v1", "kam.account.complaint_updated.v1",
                "kam.account.plan_created.v1", "kam.account.plan_updated.v1",
                "kam.account.contact_added.v1", "kam.account.contact_updated.v1"}
RECORD_FIELDS = ("interaction", "complaint", "plan", "contact")


# --- the model ------------------------------------------------------------------------------------

async def current_model(repo: HealthRepository) -> dict:
    row = await repo.model()
    if row is None:  # a database migrated before 0006 seeded the row cannot exist; be safe anyway
        return {"weights": dict(DEFAULT_WEIGHTS), "version": 1, "updated_by": None, "updated_at": None}
    return dict(row)


def present_model(model: dict) -> dict:
    return {"weights": {p: model["weights"].get(p, 0) for p in PARTS}, "version": model["version"],
            "parts": [{"key": p, "title": TITLES[p]} for p in PARTS],
            "bands": {"healthy": HEALTHY, "watch": WATCH, "at_risk": 0},
            "tier_norms": {t: {"expected_interval_days": i, "expected_per_year": n}
                           for t, (i, n) in TIER_NORMS.items()},
            "updated_by": model.get("updated_by"), "updated_at": model.get("updated_at")}


async def get_model(session: AsyncSession) -> dict:
    return present_model(await current_model(HealthRepository(session)))


# --- scoring and storing --------------------------------------------------------------------------

def _event(account: dict, previous, stored: dict, health: Health, cause: str) -> DomainEvent | None:
    if previous is None or previous["band"] == health.band:
        return None
    parts = [HealthPartState(key=p["key"], score=p["score"], weight=p["weight"], points=p["points"],
                             summary=p["summary"]) for p in health.parts]
    return DomainEvent("kam.account.health_changed.v1", account["id"], stored["version"], AccountHealthChanged(
        account_id=account["id"], owner_id=account["owner_id"], score=health.score, band=health.band,
        from_score=previous["score"], from_band=previous["band"], parts=parts, model_version=stored["model_version"],
        computed_at=stored["computed_at"], cause=cause[:100]))


def _same(stored, health: Health, model_version: int) -> bool:
    """Whether the stored health is this one (score, parts with their facts, model)."""
    return stored is not None and stored["score"] == health.score and stored["model_version"] == model_version \
        and stored["parts"] == jsonable(health.parts)


async def _store(repo: HealthRepository, account: dict, health: Health, model_version: int, now: dt.datetime,
                 cause: str, *, touch: bool = False) -> DomainEvent | None:
    """Store the health when it differs from what is stored (`touch`: else note when it was checked);
    the band-change event, if any."""
    previous = await repo.stored(account["id"], lock=True)
    parts = jsonable(health.parts)
    if _same(previous, health, model_version):
        if touch:
            await repo.touch(account["id"], now)
        return None
    values = dict(score=health.score, band=health.band, parts=parts, model_version=model_version,
                  version=(previous["version"] + 1) if previous else 1, computed_at=now, cause=cause[:100])
    await repo.store(account["id"], values)
    return _event(account, previous, values, health, cause)


async def recompute(session: AsyncSession, account_id: uuid.UUID, *, now: dt.datetime, cause: str,
                    model: dict | None = None, touch: bool = False) -> DomainEvent | None:
    """Score the account from its facts and store it; the health_changed event when the band moved."""
    repo = HealthRepository(session)
    account = await repo.account(account_id)
    if account is None or account["merged_into_id"] is not None:
        return None  # a tombstone keeps its last score; its facts moved to the survivor
    facts = await repo.facts(dict(account), now)
    model = model or _model_of(facts)
    health = score_health(facts.inputs, model["weights"], now)
    return await _store(repo, dict(account), health, model["version"], now, cause, touch=touch)


def _model_of(facts) -> dict:
    # as current_model: a database migrated before 0006 seeded the row cannot exist; be safe anyway
    return facts.model or {"weights": dict(DEFAULT_WEIGHTS), "version": 1, "updated_by": None, "updated_at": None}


def _accounts_touched(events: list[DomainEvent]) -> dict[uuid.UUID, str]:
    touched: dict[uuid.UUID, str] = {}
    for event in events:
        if event.type not in INPUT_EVENTS:
            continue
        data = event.data
        account = getattr(data, "account", None)
        if account is not None:
            touched.setdefault(account.id, event.type)
            continue
        for name in RECORD_FIELDS:
            record = getattr(data, name, None)
            if record is not None:
                touched.setdefault(record.account_id, event.type)
    return touched


async def recompute_after(uow: UnitOfWork, events: list[DomainEvent]) -> None:
    """Before a unit of work commits: recompute the health of every account whose inputs it changed."""
    touched = _accounts_touched(events)
    if not touched:
        return
    now = utcnow()
    model = await current_model(HealthRepository(uow.session))
    for account_id, cause in touched.items():
        event = await recompute(uow.session, account_id, now=now, cause=cause, model=model)
        if event is not None:
            uow.publish(event)


def present_health(row) -> dict:
    return {"account_id": row["account_id"], "score": row["score"], "band": row["band"], "parts": row["parts"],
            "model_version": row["model_version"], "computed_at": row["computed_at"], "cause": row["cause"],
            "bands": {"healthy": HEALTHY, "watch": WATCH, "at_risk": 0}}


async def account_health(runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    """The health as of now (computed at read; the stored score is refreshed when it moved).

    Scored first in a read session (no transaction: visibility, then the facts, model and stored
    health in two statements). Mostly the result is what is stored and that is the answer; when it
    moved, a unit of work scores again (`recompute`: the stored row locked, compared, written, the
    band change published) and answers what it stored."""
    now = utcnow()
    async with runtime.db.read_session() as session:
        account = await visible_account(session, runtime, principal, account_id)
        repo = HealthRepository(session)
        if account["merged_into_id"] is not None:  # a tombstone keeps its last score (`recompute`)
            return present_health(await repo.stored(account_id))
        facts = await repo.facts(dict(account), now)
        model = _model_of(facts)
        if _same(facts.stored, score_health(facts.inputs, model["weights"], now), model["version"]):
            return present_health(facts.stored)
    async with runtime.uow() as uow:
        event = await recompute(uow.session, account_id, now=now, cause="read")
        if event is not None:
            uow.publish(event)
        return present_health(await HealthRepository(uow.session).stored(account_id))


# --- admin: the model and the periodic recompute --------------------------------------------------

def _require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"{what} is for admins")


async def _reweigh_all(uow: UnitOfWork, repo: HealthRepository, weights: dict, version: int,
                       now: dt.datetime) -> int:
    """Every stored score re-weighted from its stored part scores; returns how many bands moved."""
    moved, after = 0, None
    while True:
        rows = await repo.stored_page(after=after, limit=BATCH)
        if not rows:
            return moved
        for row in rows:
            health = with_weights(row["parts"], weights)
            event = await _store(repo, {"id": row["account_id"], "owner_id": row["owner_id"]}, health, version,
                                 now, "health_model")
            if event is not None:
                moved += 1
                uow.publish(event)
        after = rows[-1]["account_id"]


async def change_model(uow: UnitOfWork, principal: Principal, body: dict, if_match: str | None) -> dict:
    _require_admin(principal, "changing the health model")
    repo = HealthRepository(uow.session)
    current = dict(await repo.model(lock=True) or await current_model(repo))
    check_if_match(if_match, current["version"])
    weights = check_weights(body.get("weights"))
    changes = {p: FieldChange(before=current["weights"].get(p), after=weights[p]) for p in PARTS
               if current["weights"].get(p) != weights[p]}
    if not changes:
        return present_model(current)
    now, version = utcnow(), current["version"] + 1
    await repo.save_model(weights, version, by=principal.user_id, now=now)
    uow.publish(DomainEvent("kam.account.health_model_changed.v1", HEALTH_MODEL_KEY, version, HealthModelChanged(
        model=HealthModelState(weights=weights, version=version), changes=changes, changed_by=principal.user_id)))
    await _reweigh_all(uow, repo, weights, version, now)
    return present_model(await current_model(repo))


async def recompute_stale(uow: UnitOfWork, principal: Principal, *, stale_hours: int, limit: int) -> dict:
    """Accounts never scored, then those last computed before `stale_hours` ago, up to `limit`."""
    _require_admin(principal, "recomputing health scores")
    repo = HealthRepository(uow.session)
    now = utcnow()
    model = await current_model(repo)
    ids = await repo.never_scored(limit=limit)
    if len(ids) < limit:
        stale = await repo.stored_page(after=None, limit=limit - len(ids),
                                       older_than=now - dt.timedelta(hours=stale_hours))
        ids += [r["account_id"] for r in stale]
    moved = 0
    for account_id in ids:
        event = await recompute(uow.session, account_id, now=now, cause="periodic", model=model, touch=True)
        if event is not None:
            moved += 1
            uow.publish(event)
    return {"recomputed": len(ids), "band_changes": moved, "more": len(ids) == limit}
