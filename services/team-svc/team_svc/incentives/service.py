"""Use cases on incentive plans (expected cost, approval) and payouts (calculate, adjust,
approve, pay), with their history."""
from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.events.team import IncentiveAccelerator, IncentiveTier, PayoutLine
from kam_shared.http import check_if_match
from kam_shared.money import from_cents, to_cents, validate_currency

from ..common.hierarchy import active_user, can_see_user, is_above, visible_user_ids
from ..quotas.attainment import pipeline_by_currency, user_scope, won_by_currency
from ..quotas.domain import parse_period
from ..quotas.service import calendar
from .domain import IncentivePlan, Payout, Terms, statement
from .repository import Incentives

# ------------------------------------------------------------------------------------- plans


def _terms_from(data: dict, cap_cents: int | None) -> Terms:
    return Terms(base_rate_percent=Decimal(data["base_rate_percent"]),
                 tiers=tuple(IncentiveTier.model_validate(t) for t in data.get("tiers", [])),
                 accelerators=tuple(IncentiveAccelerator.model_validate(a) for a in data.get("accelerators", [])),
                 cap_amount=from_cents(cap_cents) if cap_cents is not None else None)


def _terms_json(terms: Terms) -> dict:
    return {"base_rate_percent": str(terms.base_rate_percent),
            "tiers": [t.model_dump(mode="json") for t in terms.tiers],
            "accelerators": [a.model_dump(mode="json") for a in terms.accelerators]}


def make_terms(base_rate_percent: Decimal, tiers: list[dict], accelerators: list[dict],
               cap_amount: Decimal | None) -> Terms:
    try:
        bands = (tuple(IncentiveTier(**t) for t in tiers), tuple(IncentiveAccelerator(**a) for a in accelerators))
    except PydanticValidationError as exc:
        raise ValidationProblem(f"tiers/accelerators: {exc.errors()[0]['msg']}", field="tiers") from None
    return Terms(base_rate_percent=Decimal(base_rate_percent), tiers=bands[0], accelerators=bands[1],
                 cap_amount=cap_amount)


async def _participants(session: AsyncSession, plan_id: uuid.UUID) -> list[uuid.UUID]:
    return await Incentives(session).participants(plan_id)


def _plan_from_row(row, participant_ids: list[uuid.UUID]) -> IncentivePlan:
    return IncentivePlan(id=row["id"], name=row["name"], currency=row["currency"], fiscal_year=row["fiscal_year"],
                         payout_frequency=row["payout_frequency"], terms=_terms_from(row["terms"], row["cap_cents"]),
                         participant_ids=participant_ids, status=row["status"], version=row["version"])


async def _load_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, lock: bool = False):
    row = await Incentives(session).plan_row(plan_id, lock=lock)
    participants = await _participants(session, plan_id) if row is not None else []
    if row is None or not await _plan_visible(session, principal, participants):
        raise NotFound(f"incentive plan {plan_id} not found")
    return row, _plan_from_row(row, participants)


async def _plan_visible(session: AsyncSession, principal: Principal, participants: list[uuid.UUID]) -> bool:
    """Plans are compensation: admins see all; others the plans that pay them or their team."""
    if principal.is_admin:
        return True
    visible = await visible_user_ids(session, principal)
    return any(p in visible for p in participants)


async def _require_over_all(session: AsyncSession, principal: Principal, people: list[uuid.UUID], what: str) -> None:
    """Admins, or a manager above every participant, may analyse and approve a plan."""
    if principal.is_admin:
        return
    for person in people:
        if not await is_above(session, principal.user_id, person):
            raise Forbidden(f"only an admin or someone above every participant can {what}")


async def _check_participants(session: AsyncSession, participant_ids: list[uuid.UUID]) -> None:
    for user_id in participant_ids:
        await active_user(session, user_id, "participant_ids")


def _check_fiscal_year(cal, label: str) -> str:
    period = parse_period(cal, label)
    if period.kind != "year":
        raise ValidationProblem("fiscal_year must name a fiscal year, e.g. FY2026", field="fiscal_year")
    return period.label


async def _save_plan(session: AsyncSession, plan: IncentivePlan, expected_version: int | None, by: uuid.UUID,
                     *, participants_changed: bool = False, approved: bool = False) -> None:
    values = dict(name=plan.name, currency=plan.currency, fiscal_year=plan.fiscal_year,
                  payout_frequency=plan.payout_frequency, terms=_terms_json(plan.terms),
                  cap_cents=to_cents(plan.terms.cap_amount) if plan.terms.cap_amount is not None else None,
                  status=plan.status, version=plan.version, updated_at=utcnow())
    if approved:
        values.update(approved_by=by, approved_at=utcnow())
    repo = Incentives(session)
    if expected_version is None:
        await repo.add_plan(dict(id=plan.id, created_by=by, created_at=utcnow(), **values))
    elif not await repo.save_plan(plan.id, expected_version, values):
        raise PreconditionFailed("incentive plan changed concurrently; reload and retry")
    if participants_changed or expected_version is None:
        await repo.set_participants(plan.id, plan.participant_ids)


async def create_plan(uow: UnitOfWork, principal: Principal, *, name: str, currency: str, fiscal_year: str,
                      payout_frequency: str, base_rate_percent: Decimal, tiers: list[dict], accelerators: list[dict],
                      cap_amount: Decimal | None, participant_ids: list[uuid.UUID]) -> dict:
    if not principal.is_admin:
        raise Forbidden("only an admin can draft incentive plans")
    session = uow.session
    terms = make_terms(base_rate_percent, tiers, accelerators, cap_amount)
    await _check_participants(session, participant_ids)
    plan = IncentivePlan.draft(name=name, currency=validate_currency(currency),
                               fiscal_year=_check_fiscal_year(await calendar(session), fiscal_year),
                               payout_frequency=payout_frequency, terms=terms, participant_ids=participant_ids,
                               by=principal.user_id)
    await _save_plan(session, plan, None, principal.user_id)
    uow.publish(*plan.events)
    return await get_plan(session, principal, plan.id)


async def update_plan(uow: UnitOfWork, principal: Principal, plan_id: uuid.UUID, fields: dict,
                      if_match: str | None) -> dict:
    if not principal.is_admin:
        raise Forbidden("only an admin can change incentive plans")
    session = uow.session
    row, plan = await _load_plan(session, principal, plan_id, lock=True)
    check_if_match(if_match, row["version"])
    if fields.pop("retire", False):
        plan.retire(principal.user_id)
    term_fields = {k: fields.pop(k) for k in ("base_rate_percent", "tiers", "accelerators", "cap_amount")
                   if k in fields}
    if term_fields:
        t = plan.terms
        fields["terms"] = make_terms(
            term_fields.get("base_rate_percent", t.base_rate_percent),
            term_fields["tiers"] if "tiers" in term_fields else [x.model_dump() for x in t.tiers],
            term_fields["accelerators"] if "accelerators" in term_fields else [x.model_dump() for x in t.accelerators],
            term_fields.get("cap_amount", t.cap_amount))
    if "currency" in fields:
        fields["currency"] = validate_currency(fields["currency"])
    if "fiscal_year" in fields:
        fields["fiscal_year"] = _check_fiscal_year(await calendar(session), fields["fiscal_year"])
    if "participant_ids" in fields:
        await _check_participants(session, fields["participant_ids"])
    if fields:
        plan.change(principal.user_id, **fields)
    if plan.events:
        await _save_plan(session, plan, row["version"], principal.user_id,
                         participants_changed="participant_ids" in fields)
        uow.publish(*plan.events)
    return await get_plan(session, principal, plan.id)


def _payout_period(cal, plan: IncentivePlan, label: str):
    period = parse_period(cal, label)
    if period.kind != plan.payout_frequency:
        raise ValidationProblem(f"the plan pays per {plan.payout_frequency}; {period.label} is a {period.kind}",
                                field="period")
    if f"FY{cal.fiscal_year_of(period.start)}" != plan.fiscal_year:
        raise ValidationProblem(f"{period.label} is outside the plan's fiscal year {plan.fiscal_year}", field="period")
    return period


async def _approved_quota(session: AsyncSession, user_id: uuid.UUID, period_label: str, currency: str):
    row = await Incentives(session).quota_of(user_id, period_label)
    if row is None or row.approved_amount_cents is None:
        return None, f"no approved quota for {period_label}"
    if row.currency != currency:
        return None, f"the quota for {period_label} is in {row.currency}, the plan pays in {currency}"
    if row.approved_amount_cents <= 0:
        return None, f"the approved quota for {period_label} is zero"
    return from_cents(row.approved_amount_cents), None


async def _names(session: AsyncSession, ids) -> dict:
    return await Incentives(session).names(list(ids))


async def expected_cost(uow: UnitOfWork, principal: Principal, plan_id: uuid.UUID, period_label: str) -> dict:
    """预期费用分析: what the plan would pay for the period if only what is won counts (committed), if
    the open pipeline closes as weighted by stage probability (expected), or if all of it closes
    (best case)."""
    session = uow.session
    row, plan = await _load_plan(session, principal, plan_id, lock=True)
    await _require_over_all(session, principal, plan.participant_ids, "analyse the plan's cost")
    period = _payout_period(await calendar(session), plan, period_label)
    names = await _names(session, plan.participant_ids)
    people, totals = [], {"committed_cost": Decimal("0.00"), "expected_cost": Decimal("0.00"),
                          "best_case_cost": Decimal("0.00")}
    for user_id in plan.participant_ids:
        quota, note = await _approved_quota(session, user_id, period.label, plan.currency)
        scope = await user_scope(session, user_id, rollup=True)
        won = from_cents((await won_by_currency(session, scope, period.start, period.end)).get(plan.currency, 0))
        open_cents, weighted_x100 = (await pipeline_by_currency(session, scope, period.start, period.end)).get(
            plan.currency, (0, 0))
        pipeline, weighted = from_cents(open_cents), (Decimal(weighted_x100) / 10000).quantize(Decimal("0.01"))
        entry = {"user_id": user_id, "name": names.get(user_id), "quota": quota, "won_amount": won,
                 "weighted_pipeline": weighted, "open_pipeline": pipeline, "note": note,
                 "committed_cost": None, "expected_cost": None, "best_case_cost": None}
        if quota is not None:
            for key, revenue in (("committed_cost", won), ("expected_cost", won + weighted),
                                 ("best_case_cost", won + pipeline)):
                entry[key] = statement(plan.terms, quota, revenue).amount
                totals[key] += entry[key]
        people.append(entry)
    plan.analysed(period.label, totals["committed_cost"], totals["expected_cost"], totals["best_case_cost"],
                  principal.user_id)
    await _save_plan(session, plan, row["version"], principal.user_id)
    now = utcnow()
    detail = [{k: (str(v) if isinstance(v, (Decimal, uuid.UUID)) else v) for k, v in p.items()} for p in people]
    await Incentives(session).add_cost_analysis(dict(
        plan_id=plan.id, plan_version=plan.version, period=period.label,
        committed_cents=to_cents(totals["committed_cost"]), expected_cents=to_cents(totals["expected_cost"]),
        best_case_cents=to_cents(totals["best_case_cost"]), detail=detail, analysed_by=principal.user_id,
        analysed_at=now))
    uow.publish(*plan.events)
    return {"plan_id": plan.id, "plan_version": plan.version, "period": period.label, "currency": plan.currency,
            "participants": people, **totals, "analysed_at": now}


async def approve_plan(uow: UnitOfWork, principal: Principal, plan_id: uuid.UUID, if_match: str | None) -> dict:
    session = uow.session
    row, plan = await _load_plan(session, principal, plan_id, lock=True)
    check_if_match(if_match, row["version"])
    await _require_over_all(session, principal, plan.participant_ids, "approve the plan")
    analysis = await Incentives(session).latest_cost_analysis(plan.id)
    plan.approve(principal.user_id, analysed_version=analysis["plan_version"] if analysis else None,
                 expected_cost=from_cents(analysis["expected_cents"]) if analysis else None,
                 period=analysis["period"] if analysis else None)
    await _save_plan(session, plan, row["version"], principal.user_id, approved=True)
    uow.publish(*plan.events)
    return await get_plan(session, principal, plan.id)


def _present_plan(row, plan: IncentivePlan, visible: set[uuid.UUID] | None) -> dict:
    """A plan as the caller may see it: the participants they may see (themselves, people below them;
    an admin all of them), and `participant_count` of them all."""
    out = {**plan.state().model_dump(), "approved_by": row["approved_by"], "approved_at": row["approved_at"],
           "created_at": row["created_at"], "updated_at": row["updated_at"],
           "participant_count": len(plan.participant_ids)}
    if visible is not None:
        out["participant_ids"] = [p for p in plan.participant_ids if p in visible]
    return out


def _sees_all(plan: IncentivePlan, visible: set[uuid.UUID] | None) -> bool:
    return visible is None or all(p in visible for p in plan.participant_ids)


async def get_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> dict:
    row, plan = await _load_plan(session, principal, plan_id)
    visible = await visible_user_ids(session, principal)
    out = _present_plan(row, plan, visible)
    if not _sees_all(plan, visible):  # the plan's cost totals add up people the caller may not see
        out["cost_analyses"] = None
        return out
    analyses = await Incentives(session).cost_analyses(plan_id)
    out["cost_analyses"] = [{"plan_version": a["plan_version"], "period": a["period"],
                             "committed_cost": from_cents(a["committed_cents"]),
                             "expected_cost": from_cents(a["expected_cents"]),
                             "best_case_cost": from_cents(a["best_case_cents"]), "analysed_by": a["analysed_by"],
                             "analysed_at": a["analysed_at"]} for a in analyses]
    return out


async def list_plans(session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None,
                     status: str | None) -> dict:
    visible = await visible_user_ids(session, principal)
    rows, next_cursor = await Incentives(session).plan_page(limit=limit, cursor=cursor, status=status, visible=visible)
    items = [_present_plan(r, _plan_from_row(r, await _participants(session, r["id"])), visible) for r in rows]
    return {"items": items, "next_cursor": next_cursor}


# ----------------------------------------------------------------------------------- payouts


def _payout_from_row(row) -> Payout:
    return Payout(id=row["id"], plan_id=row["plan_id"], user_id=row["user_id"], period=row["period"],
                  currency=row["currency"], quota=from_cents(row["quota_cents"]),
                  attained=from_cents(row["attained_cents"]), attainment_percent=Decimal(row["attainment_percent"]),
                  gross=from_cents(row["gross_cents"]), adjustment=from_cents(row["adjustment_cents"]),
                  amount=from_cents(row["amount_cents"]), paid=from_cents(row["paid_cents"]), status=row["status"],
                  revision=row["revision"], lines=[PayoutLine.model_validate(x) for x in row["lines"]],
                  version=row["version"])


def _payout_columns(p: Payout) -> dict:
    return dict(plan_id=p.plan_id, user_id=p.user_id, period=p.period, currency=p.currency,
                quota_cents=to_cents(p.quota), attained_cents=to_cents(p.attained),
                attainment_percent=str(p.attainment_percent), gross_cents=to_cents(p.gross),
                adjustment_cents=to_cents(p.adjustment), amount_cents=to_cents(p.amount),
                paid_cents=to_cents(p.paid), status=p.status, revision=p.revision,
                lines=[line.model_dump(mode="json") for line in p.lines], version=p.version)


async def _save_payout(session: AsyncSession, p: Payout, expected_version: int | None) -> None:
    now = utcnow()
    columns = _payout_columns(p)
    repo = Incentives(session)
    if expected_version is None:
        await repo.add_payout(dict(id=p.id, created_at=now, updated_at=now, **columns))
    elif not await repo.save_payout(p.id, expected_version, dict(updated_at=now, **columns)):
        raise PreconditionFailed("payout changed concurrently; reload and retry")
    rows = [dict(payout_id=p.id, revision=p.revision, version=p.version, action=action, status=p.status,
                 reason=reason, actor_id=actor, at=now,
                 **{k: columns[k] for k in ("quota_cents", "attained_cents", "gross_cents", "adjustment_cents",
                                            "amount_cents", "paid_cents", "lines")})
            for action, reason, actor in p.history]
    await repo.add_payout_revisions(rows)
    p.history.clear()


async def calculate_payouts(uow: UnitOfWork, principal: Principal, plan_id: uuid.UUID, period_label: str,
                            user_ids: list[uuid.UUID] | None) -> dict:
    """Each participant's payout for the period from their attainment (closed-won revenue of them
    and their team against their approved quota). Running it again after late wins or a revised
    quota makes new revisions; unchanged payouts stay as they are."""
    session = uow.session
    _, plan = await _load_plan(session, principal, plan_id)
    if plan.status != "approved":
        raise ValidationProblem(f"the plan is {plan.status}; only an approved plan pays out", field="plan_id")
    period = _payout_period(await calendar(session), plan, period_label)
    people = user_ids or plan.participant_ids
    strangers = [u for u in people if u not in plan.participant_ids]
    if strangers:
        raise ValidationProblem(f"user {strangers[0]} does not take part in this plan", field="user_ids")
    await _require_over_all(session, principal, people, "calculate payouts")
    calculated, skipped = [], []
    for user_id in people:
        quota, note = await _approved_quota(session, user_id, period.label, plan.currency)
        if quota is None:
            skipped.append({"user_id": user_id, "reason": note})
            continue
        won = (await won_by_currency(session, await user_scope(session, user_id, rollup=True), period.start,
                                     period.end)).get(plan.currency, 0)
        result = statement(plan.terms, quota, from_cents(won))
        existing = await Incentives(session).payout_of(plan.id, user_id, period.label, lock=True)
        if existing is None:
            payout = Payout.calculate(plan_id=plan.id, user_id=user_id, period=period.label, currency=plan.currency,
                                      result=result, by=principal.user_id)
            await _save_payout(session, payout, None)
        else:
            payout = _payout_from_row(existing)
            if payout.recalculate(result, principal.user_id):
                await _save_payout(session, payout, existing["version"])
        uow.publish(*payout.events)
        calculated.append(payout.id)
    return {"plan_id": plan.id, "period": period.label,
            "payouts": [await get_payout(session, principal, pid, with_history=False) for pid in calculated],
            "skipped": skipped}


async def _load_payout(session: AsyncSession, principal: Principal, payout_id: uuid.UUID, *, lock: bool = False):
    row = await Incentives(session).payout_row(payout_id, lock=lock)
    if row is None or not await can_see_user(session, principal, row["user_id"]):
        raise NotFound(f"payout {payout_id} not found")
    return row


def _present_payout(row) -> dict:
    p = _payout_from_row(row)
    return {**p.state().model_dump(), "created_at": row["created_at"], "updated_at": row["updated_at"]}


async def get_payout(session: AsyncSession, principal: Principal, payout_id: uuid.UUID, *,
                     with_history: bool = True) -> dict:
    row = await _load_payout(session, principal, payout_id)
    out = _present_payout(row)
    if with_history:
        revisions = await Incentives(session).payout_revisions(payout_id)
        out["history"] = [{"revision": r["revision"], "version": r["version"], "action": r["action"],
                           "status": r["status"], "amount": from_cents(r["amount_cents"]),
                           "gross_amount": from_cents(r["gross_cents"]),
                           "attained_amount": from_cents(r["attained_cents"]),
                           "adjustment": from_cents(r["adjustment_cents"]), "paid_amount": from_cents(r["paid_cents"]),
                           "reason": r["reason"], "actor_id": r["actor_id"], "at": r["at"]} for r in revisions]
    return out


async def list_payouts(session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None,
                       **filters) -> dict:
    visible = await visible_user_ids(session, principal)
    items, next_cursor = await Incentives(session).payout_page(limit=limit, cursor=cursor, filters=filters,
                                                               visible=visible, present=_present_payout)
    return {"items": items, "next_cursor": next_cursor}


async def change_payout(uow: UnitOfWork, principal: Principal, payout_id: uuid.UUID, action: str, *,
                        adjustment: Decimal | None = None, reason: str | None = None,
                        if_match: str | None = None) -> dict:
    session = uow.session
    row = await _load_payout(session, principal, payout_id, lock=True)
    check_if_match(if_match, row["version"])
    payout = _payout_from_row(row)
    above = await is_above(session, principal.user_id, payout.user_id)
    if action == "approve":
        payout.approve(principal.user_id, approver_is_above=above, approver_is_admin=principal.is_admin)
    elif action == "adjust":
        if principal.user_id == payout.user_id or not (above or principal.is_admin):
            raise Forbidden("only someone above the payee, or an admin, can adjust a payout")
        capped = payout.amount - payout.adjustment
        payout.adjust(adjustment, reason, principal.user_id, capped_amount=capped)
    elif action == "pay":
        if not principal.is_admin:
            raise Forbidden("only an admin records payments")
        payout.pay(principal.user_id)
    await _save_payout(session, payout, row["version"])
    uow.publish(*payout.events)
    return await get_payout(session, principal, payout.id)
