"""Use cases of opportunity-svc: load → domain → save + events in one unit of work.

Who may do what (the hierarchy comes from the user replica):
* see an opportunity: its primary owner, anyone above the owner, an admin, and the members of
  its sales team (read only); anyone else gets 404;
* change it: the primary owner, anyone above them, an admin (a team member gets 403);
* change the primary owner: only someone above the current owner, or an admin;
* confirm it and set its forecast category: only the primary owner.
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import and_, bindparam, case, false, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal
from kam_shared.errors import Forbidden, NotFound, UpstreamUnavailable, ValidationProblem
from kam_shared.events import AccountCreated, AccountMerged, CloudEvent, DomainEvent, FieldChange, utcnow
from kam_shared.events.opportunity import StageModelChanged, StageState, TenderState
from kam_shared.hierarchy import is_above, subtree_ids
from kam_shared.money import from_cents, validate_currency
from kam_shared.outbox import add_to_outbox
from kam_shared.pagination import decode_cursor, encode_cursor
from kam_shared.peers import peer_client
from kam_shared.replicas import upsert_versioned

from . import repository as repo
from .domain import assessment as scoring
from .domain.funnel import STAGE_NUMBERS, Stage, StageModel
from .domain.opportunity import Opportunity
from .models import account_replica, assessments, opportunities, plumbing, stage_history, team_members

SOURCE = "/kam/opportunity-svc"
_ACCOUNT = select(account_replica.c.id, account_replica.c.merged_into).where(
    account_replica.c.id == bindparam("account_id"))
STAGE_MODEL_KEY = "stage-model"


# ------------------------------------------------------------------ presentation
def present(opp: Opportunity, model: StageModel) -> dict:
    out = opp.state().model_dump()
    out.update(stage_name=model.name(opp.stage), confirmed_by=opp.confirmed_by)
    return out


# ------------------------------------------------------------------ accounts (replica + fallback)
async def account_exists(session: AsyncSession, runtime: Runtime, principal: Principal,
                         account_id: uuid.UUID) -> bool:
    """The local replica first; if it has not caught up, ask account-svc (and remember the answer).
    An account merged into another is refused with the survivor's id."""
    row = (await session.execute(_ACCOUNT, {"account_id": account_id})).first()
    if row is not None:
        if row.merged_into is not None:
            raise ValidationProblem(f"account {account_id} was merged into {row.merged_into}; use that account",
                                    field="account_id", survivor_id=str(row.merged_into))
        return True
    try:
        async with peer_client(runtime, "account-svc", timeout=5) as client:
            resp = await client.get(f"/v1/accounts/{account_id}",
                                    headers={"Authorization": f"Bearer {principal.token}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc unreachable ({type(exc).__name__})",
                                  field="account_id") from None
    if resp.status_code == 404:
        return False
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc answered {resp.status_code}",
                                  field="account_id")
    body = resp.json()
    await upsert_account(session, uuid.UUID(body["id"]), body["name"],
                         uuid.UUID(body["owner_id"]) if body.get("owner_id") else None, body["version"])
    return True


async def upsert_account(session: AsyncSession, account_id: uuid.UUID, name: str, owner_id, version: int,
                         merged_into: uuid.UUID | None = None) -> None:
    await upsert_versioned(session, account_replica, dict(id=account_id, name=name, owner_id=owner_id,
                                                          version=version, merged_into=merged_into))


async def on_account_created(session: AsyncSession, event: CloudEvent, payload: AccountCreated) -> None:
    a = payload.account
    await upsert_account(session, a.id, a.name, a.owner_id, a.version)


async def on_account_merged(session: AsyncSession, event: CloudEvent, payload: AccountMerged) -> None:
    """Re-point every opportunity of the merged account to the survivor, each with its own event
    (written to the outbox in the inbox transaction), and keep a tombstone of the merged account
    so a late create on it is refused. Replays find nothing left to move."""
    survivor, merged = payload.survivor_id, payload.merged_id
    a = payload.account
    await upsert_account(session, a.id, a.name, a.owner_id, a.version)
    old_name = await session.scalar(select(account_replica.c.name).where(account_replica.c.id == merged))
    await upsert_account(session, merged, old_name or f"(merged into {survivor})", None, payload.merged_version,
                         merged_into=survivor)
    query = select(opportunities).where(opportunities.c.account_id == merged).order_by(opportunities.c.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    events: list[DomainEvent] = []
    for row in (await session.execute(query)).mappings().all():
        opp = repo.to_domain(row)
        before_version = opp.version
        if opp.repoint_account(survivor, cause=f"account {merged} merged into {survivor} (event {event.id})"):
            await repo.save(session, opp, before_version)
            events.extend(opp.events)
    await add_to_outbox(session, plumbing, SOURCE, events)


def kick_relay_after_merges(runtime: Runtime, handled: list[CloudEvent]) -> None:
    """Merges publish from the consumer; start the relay now rather than at its next poll."""
    if any(e.type == "kam.account.merged.v1" for e in handled):
        runtime.relay.kick()


# ------------------------------------------------------------------ access
async def _is_team_member(session: AsyncSession, opp_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await session.scalar(select(func.count()).select_from(team_members).where(
        team_members.c.opportunity_id == opp_id, team_members.c.user_id == user_id)) > 0


async def _access(session: AsyncSession, runtime: Runtime, principal: Principal, row) -> str | None:
    """"manage" (owner's line or admin), "read" (on the sales team) or None (may not see it)."""
    if await runtime.visibility.can_see(session, principal, row["owner_id"]):
        return "manage"
    if await _is_team_member(session, row["id"], principal.user_id):
        return "read"
    return None


async def _load_visible(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                        *, for_change: bool, if_match: str | None = None, team_may_try: bool = False) -> Opportunity:
    """Load for reading, or for a change (row locked, If-Match checked, the caller must be in the owner's
    line unless `team_may_try`: the use case then applies a rule of its own and says why it refuses)."""
    row = await repo.load_row(session, opp_id, for_update=for_change)
    access = await _access(session, runtime, principal, row) if row is not None else None
    if access is None:
        raise NotFound(f"opportunity {opp_id} not found")
    if for_change:
        if access != "manage" and not team_may_try:
            raise Forbidden("you are on this opportunity's sales team (read access); changes are made by the "
                            "primary owner, their superiors or an admin")
        check_if_match(if_match, row["version"])
    return repo.to_domain(row)


async def get_visible(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> dict:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    return present(opp, await repo.load_stage_model(session))


async def _commit(uow: UnitOfWork, opp: Opportunity, before_version: int, *, team_changed: bool = False) -> None:
    await repo.save(uow.session, opp, before_version, team_changed=team_changed)
    uow.publish(*opp.events)
    await uow.commit()


async def _known_user(session: AsyncSession, runtime: Runtime, user_id: uuid.UUID, field: str) -> None:
    users = runtime.tables.user_replica
    active = await session.scalar(select(users.c.active).where(users.c.id == user_id))
    if active is None:
        raise ValidationProblem(f"user {user_id} is not known to the sales organisation", field=field)
    if not active:
        raise ValidationProblem(f"user {user_id} is deactivated", field=field)


# ------------------------------------------------------------------ create and funnel
async def create_opportunity(uow: UnitOfWork, runtime: Runtime, principal: Principal, *, account_id: uuid.UUID,
                             name: str, amount: Decimal, currency: str, close_date: dt.date,
                             owner_id: uuid.UUID | None) -> dict:
    session = uow.session
    currency = validate_currency(currency)
    owner_id = owner_id or principal.user_id
    if not await runtime.visibility.can_see(session, principal, owner_id):
        raise Forbidden("you can only create opportunities for yourself or people in your team", field="owner_id")
    if not await account_exists(session, runtime, principal, account_id):
        raise ValidationProblem(f"account {account_id} does not exist", field="account_id")
    model = await repo.load_stage_model(session, lock="shared")
    opp = Opportunity.open(account_id=account_id, name=name, amount=amount, currency=currency,
                           close_date=close_date, owner_id=owner_id, model=model, by=principal.user_id)
    await repo.insert_new(session, opp)
    uow.publish(*opp.events)
    await uow.commit()
    return present(opp, model)


async def change_stage(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, stage: int,
                       if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session, lock="shared")  # before the row lock: see repository
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.move_to(stage, model, principal.user_id):
        await _commit(uow, opp, before_version)
    return present(opp, model)


async def close(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, *, outcome: str,
                reason: str, competitor: str | None, if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    opp.close(outcome, reason, competitor, principal.user_id)
    await _commit(uow, opp, before_version)
    return present(opp, model)


async def reopen(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, *, reason: str,
                 stage: int | None, if_match: str | None) -> dict:
    session = uow.session
    model = await repo.load_stage_model(session, lock="shared")
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    if stage is None:  # back to where it was closed from
        stage = await session.scalar(select(stage_history.c.from_stage).where(
            stage_history.c.opportunity_id == opp_id, stage_history.c.kind.in_(("won", "lost")))
            .order_by(stage_history.c.id.desc()).limit(1)) or 1
    before_version = opp.version
    opp.reopen(reason, stage, model, principal.user_id)
    await _commit(uow, opp, before_version)
    return present(opp, model)


async def history(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> list[dict]:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    rows = [dict(r) for r in (await session.execute(
        select(stage_history).where(stage_history.c.opportunity_id == opp_id).order_by(stage_history.c.id)
    )).mappings().all()]
    now = utcnow()
    for entry, following in zip(rows, rows[1:] + [None]):
        entry["left_at"] = following["changed_at"] if following else None
        still_there = following is None and opp.status == "open"
        end = entry["left_at"] or (now if still_there else None)
        entry["days_in_stage"] = round((end - entry["changed_at"]).total_seconds() / 86400, 4) if end else None
    return rows


# ------------------------------------------------------------------ fields, confirmation, owner, team
async def update_fields(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, fields: dict,
                        if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.update(fields, principal.user_id):
        await _commit(uow, opp, before_version)
    return present(opp, model)


async def set_confirmed(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                        confirmed: bool, if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.set_confirmed(confirmed, principal.user_id):
        await _commit(uow, opp, before_version)
    return present(opp, model)


async def change_owner(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                       new_owner: uuid.UUID, reason: str | None, if_match: str | None) -> dict:
    session = uow.session
    model = await repo.load_stage_model(session)
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=True, if_match=if_match,
                              team_may_try=True)
    users = runtime.tables.user_replica
    above = not principal.is_admin and await is_above(session, users, principal.user_id, opp.owner_id)
    before_version = opp.version
    # The rule first (403 says why), then the new owner: known, active, and within the changer's reach.
    opp.change_owner(new_owner, principal.user_id, by_is_admin=principal.is_admin, by_is_above_owner=above,
                     reason=reason)
    if opp.version != before_version:
        await _known_user(session, runtime, new_owner, "owner_id")
        if not await runtime.visibility.can_see(session, principal, new_owner):
            raise Forbidden("you can only hand an opportunity to yourself or someone below you", field="owner_id")
        await _commit(uow, opp, before_version, team_changed=True)
    return present(opp, model)


async def team(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> list[dict]:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    users = runtime.tables.user_replica
    ids = [opp.owner_id, *(m.user_id for m in opp.team)]
    names = dict((await session.execute(select(users.c.id, users.c.name).where(users.c.id.in_(ids)))).all())
    return [dict(user_id=opp.owner_id, role="primary_owner", primary=True, added_at=opp.created_at,
                 name=names.get(opp.owner_id))] + \
           [dict(user_id=m.user_id, role=m.role, primary=False, added_at=m.added_at, name=names.get(m.user_id))
            for m in opp.team]


async def set_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                          user_id: uuid.UUID, role: str, if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.set_team_member(user_id, role, principal.user_id):
        await _known_user(uow.session, runtime, user_id, "user_id")
        await _commit(uow, opp, before_version, team_changed=True)
    return present(opp, model)


async def remove_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                             user_id: uuid.UUID, if_match: str | None) -> dict:
    model = await repo.load_stage_model(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    opp.remove_team_member(user_id, principal.user_id)
    await _commit(uow, opp, before_version, team_changed=True)
    return present(opp, model)


# ------------------------------------------------------------------ value assessment
def _assessment_out(row) -> dict:
    scores = {d.key: row[f"score_{d.key}"] for d in scoring.DIMENSIONS}
    return dict(number=row["number"], answers=row["answers"], total=row["total"], high_value=row["high_value"],
                dimensions=[dict(key=d.key, title=d.title, score=scores[d.key]) for d in scoring.DIMENSIONS],
                assessed_by=row["assessed_by"], assessed_at=row["assessed_at"],
                opportunity_version=row["opportunity_version"])


async def record_assessment(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                            answers: dict[str, bool], if_match: str | None) -> dict:
    session = uow.session
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    result = scoring.score(answers)
    number = 1 + (await session.scalar(select(func.count()).select_from(assessments).where(
        assessments.c.opportunity_id == opp_id)))
    before_version = opp.version
    recorded = opp.record_assessment(result, number, principal.user_id)
    scores = {f"score_{key}": score for key, _, score in result.dimensions}
    row = dict(opportunity_id=opp_id, number=number, answers=recorded.answers, total=recorded.total,
               high_value=recorded.high_value, assessed_by=principal.user_id, assessed_at=recorded.assessed_at,
               opportunity_version=opp.version, **scores)
    await session.execute(insert(assessments).values(**row))
    await _commit(uow, opp, before_version)
    return _assessment_out(row)


async def list_assessments(session: AsyncSession, runtime: Runtime, principal: Principal,
                           opp_id: uuid.UUID) -> list[dict]:
    await _load_visible(session, runtime, principal, opp_id, for_change=False)
    rows = (await session.execute(select(assessments).where(assessments.c.opportunity_id == opp_id)
                                  .order_by(assessments.c.number))).mappings().all()
    return [_assessment_out(r) for r in rows]


async def latest_assessment(session: AsyncSession, runtime: Runtime, principal: Principal,
                            opp_id: uuid.UUID) -> dict:
    history_ = await list_assessments(session, runtime, principal, opp_id)
    if not history_:
        raise NotFound(f"opportunity {opp_id} has not been assessed yet")
    return history_[-1]


def assessment_questions() -> list[dict]:
    return [dict(key=d.key, title=d.title, questions=[dict(key=q.key, text=q.text) for q in d.questions])
            for d in scoring.DIMENSIONS]


# ------------------------------------------------------------------ tender details
async def set_tender(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                     tender: TenderState, if_match: str | None) -> tuple[TenderState, int]:
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.set_tender(tender, principal.user_id):
        await _commit(uow, opp, before_version)
    return opp.tender or tender, opp.version


async def get_tender(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID):
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    if opp.tender is None:
        raise NotFound(f"opportunity {opp_id} has no tender details yet")
    return opp.tender, opp.version


# ------------------------------------------------------------------ lists, summary, snapshot
async def _scoped(session: AsyncSession, runtime: Runtime, principal: Principal, query, *,
                  owner_id=None, owner_subtree=None, account_id=None, stages=None, status=None,
                  close_date_from=None, close_date_to=None, high_value=None, confirmed=None,
                  forecast_category=None):
    """The caller's visible scope (owner's line, or sales team) narrowed by the filters."""
    c = opportunities.c
    owners = await runtime.visibility.owner_ids(session, principal)
    if owners is not None:
        on_team = select(team_members.c.opportunity_id).where(team_members.c.user_id == principal.user_id)
        query = query.where(or_(c.owner_id.in_(owners), c.id.in_(on_team)))
    if owner_subtree is not None:
        query = query.where(c.owner_id.in_(await subtree_ids(session, runtime.tables.user_replica, owner_subtree)))
    for column, value in (("owner_id", owner_id), ("account_id", account_id), ("status", status),
                          ("forecast_category", forecast_category)):
        if value is not None:
            query = query.where(c[column] == value)
    if stages:
        bad = sorted(set(stages) - set(STAGE_NUMBERS))
        if bad:
            raise ValidationProblem(f"stage {bad[0]} is not in the stage model (1..8)", field="stage")
        query = query.where(c.stage.in_(stages))
    if close_date_from is not None and close_date_to is not None and close_date_from > close_date_to:
        raise ValidationProblem("close_date_from is after close_date_to", field="close_date_from")
    if close_date_from is not None:
        query = query.where(c.close_date >= close_date_from)
    if close_date_to is not None:
        query = query.where(c.close_date <= close_date_to)
    if high_value is not None:
        query = query.where(c.high_value == true()) if high_value else \
            query.where(or_(c.high_value.is_(None), c.high_value == false()))
    if confirmed is not None:
        query = query.where(c.confirmed == confirmed)
    return query


async def list_visible(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                       cursor: str | None, **filters) -> dict:
    after = decode_cursor(cursor, uuid.UUID)
    query = select(opportunities).order_by(opportunities.c.id).limit(limit + 1)
    if after:
        query = query.where(opportunities.c.id > after)
    query = await _scoped(session, runtime, principal, query, **filters)
    rows = (await session.execute(query)).mappings().all()
    model = await repo.load_stage_model(session)
    items = [present(repo.to_domain(r), model) for r in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None}


async def snapshot(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                   cursor: str | None) -> dict:
    """Full states in id order with their versions: what the events carry, for read-model rebuilds.
    Merge it with the live stream by version (upsert where stored version < snapshot version)."""
    as_of = utcnow()
    after = decode_cursor(cursor, uuid.UUID)
    query = select(opportunities).order_by(opportunities.c.id).limit(limit + 1)
    if after:
        query = query.where(opportunities.c.id > after)
    query = await _scoped(session, runtime, principal, query)
    rows = (await session.execute(query)).mappings().all()
    model = await repo.load_stage_model(session)
    items = [repo.to_domain(r).state() for r in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor(str(items[-1].id)) if len(rows) > limit else None,
            "stage_model_version": model.version, "as_of": as_of}


async def pipeline_summary(session: AsyncSession, runtime: Runtime, principal: Principal, **filters) -> dict:
    c = opportunities.c
    open_ = c.status == "open"
    query = select(c.status, c.stage, c.currency, func.count().label("n"),
                   func.sum(c.amount_cents).label("cents"),
                   func.sum(c.amount_cents * c.probability).label("weighted_x100"),
                   func.sum(case((and_(open_, c.high_value == true()), 1), else_=0)).label("high_value"),
                   func.sum(case((and_(open_, c.confirmed == true()), 1), else_=0)).label("confirmed"),
                   ).group_by(c.status, c.stage, c.currency)
    query = await _scoped(session, runtime, principal, query, **filters)
    rows = (await session.execute(query)).all()
    model = await repo.load_stage_model(session)

    def amounts(selected) -> list[dict]:
        by_currency: dict[str, list[int]] = {}
        for r in selected:
            cents, weighted = by_currency.setdefault(r.currency, [0, 0])
            by_currency[r.currency] = [cents + int(r.cents), weighted + int(r.weighted_x100)]
        return [dict(currency=cur, amount=from_cents(cents),
                     weighted_amount=(Decimal(weighted) / 10000).quantize(Decimal("0.01")))
                for cur, (cents, weighted) in sorted(by_currency.items())]

    stages = []
    for number in range(1, 8):
        selected = [r for r in rows if r.status == "open" and r.stage == number]
        stages.append(dict(stage=number, name=model.name(number), status="open",
                           probability=model.probability(number), count=sum(r.n for r in selected),
                           amounts=amounts(selected)))
    for outcome in ("won", "lost"):
        selected = [r for r in rows if r.status == outcome]
        stages.append(dict(stage=8, name=f"{model.name(8)} ({outcome})", status=outcome, probability=None,
                           count=sum(r.n for r in selected), amounts=amounts(selected)))
    open_rows = [r for r in rows if r.status == "open"]
    return dict(stages=stages, open_count=sum(r.n for r in open_rows), open_amounts=amounts(open_rows),
                won_count=stages[7]["count"], lost_count=stages[8]["count"],
                high_value_count=sum(int(r.high_value) for r in open_rows),
                confirmed_count=sum(int(r.confirmed) for r in open_rows), stage_model_version=model.version)


# ------------------------------------------------------------------ stage model
async def get_stage_model(session: AsyncSession) -> StageModel:
    return await repo.load_stage_model(session)


async def put_stage_model(uow: UnitOfWork, principal: Principal, proposed: list[dict],
                          if_match: str | None) -> StageModel:
    if not principal.is_admin:
        raise Forbidden("only an admin changes the stage model")
    session = uow.session
    current = await repo.load_stage_model(session, lock="exclusive")
    check_if_match(if_match, current.version)
    revised, changes = current.revise([Stage(**s) for s in proposed])
    if not changes:
        return current
    now = utcnow()
    await repo.save_stage_model(session, revised, principal.user_id, now)
    # Open opportunities in a re-weighted stage take its new probability (no version bump: the
    # opportunity did not change, the model did; the one event below tells subscribers).
    for old, new in zip(current.stages[:7], revised.stages[:7]):
        if old.probability != new.probability:
            await session.execute(update(opportunities).where(
                opportunities.c.status == "open", opportunities.c.stage == new.number).values(
                probability=new.probability))
    uow.publish(DomainEvent("kam.opportunity.stage_model_changed.v1", STAGE_MODEL_KEY, revised.version,
                            StageModelChanged(version=revised.version, changed_by=principal.user_id,
                                              stages=[StageState(**s.__dict__) for s in revised.stages],
                                              changes={k: FieldChange(before=b, after=a)
                                                       for k, (b, a) in changes.items()})))
    await uow.commit()
    return revised
