"""Use cases of the opportunity aggregate: load → domain → save + events in the route's unit of work
(which commits when the use case returns; no use case commits).

Who may do what (the hierarchy comes from the user replica):
* see an opportunity: its primary owner, anyone above the owner, an admin, the members of its sales
  team and of its account's account team (read only); anyone else gets 404;
* change it: the primary owner, anyone above them, an admin (a team member gets 403);
* change the primary owner: only someone above the current owner, or an admin;
* confirm it and set its forecast category: only the primary owner.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, NotFound, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.events.opportunity import TenderState
from kam_shared.hierarchy import is_above
from kam_shared.http import check_if_match
from kam_shared.money import validate_currency

from ..accounts import service as accounts
from ..close_reasons.repository import CloseReasonRepository
from ..products.repository import ProductRepository
from ..stage_model.domain import StageModel
from ..stage_model.repository import StageModelRepository
from .domain import assessment as scoring
from .domain.opportunity import Opportunity
from .repository import OpportunityRepository, to_domain


# ------------------------------------------------------------------ presentation
def present(opp: Opportunity, model: StageModel) -> dict:
    out = opp.state().model_dump()
    out.update(stage_name=model.name(opp.stage), confirmed_by=opp.confirmed_by)
    return out


# ------------------------------------------------------------------ access
async def _access(session: AsyncSession, runtime: Runtime, principal: Principal, row) -> str | None:
    """"manage" (owner's line or admin), "read" (on the sales team, or on the account team of its
    account) or None (may not see it)."""
    if await runtime.visibility.can_see(session, principal, row["owner_id"]):
        return "manage"
    if await OpportunityRepository(session).is_team_member(row["id"], principal.user_id):
        return "read"
    if await accounts.on_account_team(session, row["account_id"], principal.user_id):
        return "read"
    return None


async def _load_visible(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                        *, for_change: bool, if_match: str | None = None, team_may_try: bool = False) -> Opportunity:
    """Load for reading, or for a change (row locked, If-Match checked, the caller must be in the owner's
    line unless `team_may_try`: the use case then applies a rule of its own and says why it refuses)."""
    row = await OpportunityRepository(session).load_row(opp_id, for_update=for_change)
    access = await _access(session, runtime, principal, row) if row is not None else None
    if access is None:
        raise NotFound(f"opportunity {opp_id} not found")
    if for_change:
        if access != "manage" and not team_may_try:
            raise Forbidden("you are on this opportunity's sales team (read access); changes are made by the "
                            "primary owner, their superiors or an admin")
        check_if_match(if_match, row["version"])
    return to_domain(row)


async def _save(uow: UnitOfWork, opp: Opportunity, before_version: int, *, team_changed: bool = False) -> None:
    await OpportunityRepository(uow.session).save(opp, before_version, team_changed=team_changed)
    uow.publish(*opp.events)


async def _known_user(session: AsyncSession, user_id: uuid.UUID, field: str) -> None:
    active = await OpportunityRepository(session).user_active(user_id)
    if active is None:
        raise ValidationProblem(f"user {user_id} is not known to the sales organisation", field=field)
    if not active:
        raise ValidationProblem(f"user {user_id} is deactivated", field=field)


async def get_visible(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> dict:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    return present(opp, await StageModelRepository(session).load())


# ------------------------------------------------------------------ create
@dataclass(frozen=True)
class NewOpportunity:
    """What `check_new` established before the write: the cleaned currency, the owner, and the account
    as account-svc answered when the replica did not know it yet (to remember in the same write)."""
    account_id: uuid.UUID
    currency: str
    owner_id: uuid.UUID
    fetched_account: accounts.FetchedAccount | None


async def check_new(runtime: Runtime, principal: Principal, *, account_id: uuid.UUID, currency: str,
                    owner_id: uuid.UUID | None) -> NewOpportunity:
    """The checks of a create, before its unit of work opens: the currency, the owner within the caller's
    reach, the account known and visible to the caller (replica first; account-svc over HTTP, as the caller,
    only when the replica does not know it or says the caller may not see it, with no transaction open)."""
    currency = validate_currency(currency)
    owner_id = owner_id or principal.user_id
    async with runtime.db.session() as session:
        if not await runtime.visibility.can_see(session, principal, owner_id):
            raise Forbidden("you can only create opportunities for yourself or people in your team",
                            field="owner_id")
        known = await accounts.in_replica(session, runtime, principal, account_id)
    fetched = None if known else await accounts.fetch(runtime, principal, account_id)
    if not known and fetched is None:  # does not exist, or the caller may not see it: one answer
        raise accounts.not_found(account_id)
    return NewOpportunity(account_id, currency, owner_id, fetched)


async def create_opportunity(uow: UnitOfWork, principal: Principal, checked: NewOpportunity, *, name: str,
                             amount: Decimal, close_date: dt.date) -> dict:
    session = uow.session
    if checked.fetched_account is not None:
        await accounts.remember(session, checked.fetched_account)
    model = await StageModelRepository(session).load(lock="shared")
    opp = Opportunity.open(account_id=checked.account_id, name=name, amount=amount, currency=checked.currency,
                           close_date=close_date, owner_id=checked.owner_id, now=utcnow(), model=model,
                           by=principal.user_id)
    await OpportunityRepository(session).insert_new(opp)
    uow.publish(*opp.events)
    return present(opp, model)


# ------------------------------------------------------------------ funnel
async def change_stage(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, stage: int,
                       if_match: str | None) -> dict:
    # The stage model's shared lock before the row lock (see stage_model/repository.py).
    model = await StageModelRepository(uow.session).load(lock="shared")
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.move_to(stage, model, principal.user_id, now=utcnow()):
        await _save(uow, opp, before_version)
    return present(opp, model)


async def close(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, *, outcome: str,
                reason: str, competitor: str | None, note: str | None, if_match: str | None) -> dict:
    model = await StageModelRepository(uow.session).load()
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    competitor = (competitor or "").strip() or None
    (await CloseReasonRepository(uow.session).load()).check_close(outcome, reason, competitor)
    before_version = opp.version
    opp.close(outcome, reason, competitor, principal.user_id, now=utcnow(), note=note)
    await _save(uow, opp, before_version)
    return present(opp, model)


async def reopen(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, *, reason: str,
                 stage: int | None, if_match: str | None) -> dict:
    session = uow.session
    model = await StageModelRepository(session).load(lock="shared")
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    if stage is None:  # back to where it was closed from
        stage = await OpportunityRepository(session).closed_from_stage(opp_id) or 1
    before_version = opp.version
    opp.reopen(reason, stage, model, principal.user_id, now=utcnow())
    await _save(uow, opp, before_version)
    return present(opp, model)


async def history(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> list[dict]:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    rows = await OpportunityRepository(session).history(opp_id)
    now = utcnow()
    for entry, following in zip(rows, rows[1:] + [None], strict=True):
        entry["left_at"] = following["changed_at"] if following else None
        still_there = following is None and opp.status == "open"
        end = entry["left_at"] or (now if still_there else None)
        entry["days_in_stage"] = round((end - entry["changed_at"]).total_seconds() / 86400, 4) if end else None
    return rows


# ------------------------------------------------------------------ fields, confirmation, owner, team
async def update_fields(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, fields: dict,
                        if_match: str | None) -> dict:
    model = await StageModelRepository(uow.session).load()
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    catalogue = await ProductRepository(uow.session).by_codes(
        str(line.get("product_code") or "").strip() for line in fields.get("lines") or [])
    if opp.update(fields, principal.user_id, now=utcnow(), catalogue=catalogue):
        await _save(uow, opp, before_version)
    return present(opp, model)


async def set_confirmed(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                        confirmed: bool, if_match: str | None) -> dict:
    model = await StageModelRepository(uow.session).load()
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.set_confirmed(confirmed, principal.user_id, now=utcnow()):
        await _save(uow, opp, before_version)
    return present(opp, model)


async def change_owner(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                       new_owner: uuid.UUID, reason: str | None, if_match: str | None) -> dict:
    session = uow.session
    model = await StageModelRepository(session).load()
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=True, if_match=if_match,
                              team_may_try=True)
    users = runtime.tables.user_replica
    above = not principal.is_admin and await is_above(session, users, principal.user_id, opp.owner_id)
    before_version = opp.version
    # The rule first (403 says why), then the new owner: known, active, and within the changer's reach.
    opp.change_owner(new_owner, principal.user_id, by_is_admin=principal.is_admin, by_is_above_owner=above,
                     now=utcnow(), reason=reason)
    if opp.version != before_version:
        await _known_user(session, new_owner, "owner_id")
        if not await runtime.visibility.can_see(session, principal, new_owner):
            raise Forbidden("you can only hand an opportunity to yourself or someone below you", field="owner_id")
        await _save(uow, opp, before_version, team_changed=True)
    return present(opp, model)


async def team(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> list[dict]:
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    names = await OpportunityRepository(session).user_names([opp.owner_id, *(m.user_id for m in opp.team)])
    # Virtual teams come from any department; a member's name is shown only to those who may see that
    # user (as GET /v1/users/{id} decides), the owner's to anyone who may see the opportunity.
    for member in opp.team:
        if not await runtime.visibility.can_see(session, principal, member.user_id):
            names.pop(member.user_id, None)
    return [dict(user_id=opp.owner_id, role="primary_owner", primary=True, added_at=opp.created_at,
                 name=names.get(opp.owner_id))] + \
           [dict(user_id=m.user_id, role=m.role, primary=False, added_at=m.added_at, name=names.get(m.user_id))
            for m in opp.team]


async def set_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                          user_id: uuid.UUID, role: str, if_match: str | None) -> dict:
    model = await StageModelRepository(uow.session).load()
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    if opp.set_team_member(user_id, role, principal.user_id, now=utcnow()):
        await _known_user(uow.session, user_id, "user_id")
        await _save(uow, opp, before_version, team_changed=True)
    return present(opp, model)


async def remove_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                             user_id: uuid.UUID, if_match: str | None) -> dict:
    model = await StageModelRepository(uow.session).load()
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    before_version = opp.version
    opp.remove_team_member(user_id, principal.user_id, now=utcnow())
    await _save(uow, opp, before_version, team_changed=True)
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
    repo = OpportunityRepository(uow.session)
    opp = await _load_visible(uow.session, runtime, principal, opp_id, for_change=True, if_match=if_match)
    result = scoring.score(answers)
    number = 1 + await repo.assessment_count(opp_id)
    before_version = opp.version
    recorded = opp.record_assessment(result, number, principal.user_id, now=utcnow())
    scores = {f"score_{key}": score for key, _, score in result.dimensions}
    row = dict(opportunity_id=opp_id, number=number, answers=recorded.answers, total=recorded.total,
               high_value=recorded.high_value, assessed_by=principal.user_id, assessed_at=recorded.assessed_at,
               opportunity_version=opp.version, **scores)
    await repo.insert_assessment(row)
    await _save(uow, opp, before_version)
    return _assessment_out(row)


async def list_assessments(session: AsyncSession, runtime: Runtime, principal: Principal,
                           opp_id: uuid.UUID) -> list[dict]:
    await _load_visible(session, runtime, principal, opp_id, for_change=False)
    return [_assessment_out(r) for r in await OpportunityRepository(session).assessments(opp_id)]


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
    if opp.set_tender(tender, principal.user_id, now=utcnow()):
        await _save(uow, opp, before_version)
    return opp.tender or tender, opp.version


async def get_tender(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID):
    opp = await _load_visible(session, runtime, principal, opp_id, for_change=False)
    if opp.tender is None:
        raise NotFound(f"opportunity {opp_id} has no tender details yet")
    return opp.tender, opp.version
