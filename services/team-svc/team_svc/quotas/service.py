"""Use cases on the fiscal calendar and quotas: set, split top-down, submit, approve, revise."""
from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.team import FiscalCalendarChanged, FiscalCalendarState, QuotaChild
from kam_shared.http import check_if_match
from kam_shared.money import from_cents, to_cents, validate_currency

from ..common.hierarchy import active_user, can_see_user, is_above, visible_user_ids
from .attainment import quota_attainment, unit_scope, user_scope, won_by_currency
from .domain import ChildTarget, Quota, parse_period
from .domain import allocate as split
from .repository import Quotas

CALENDAR_SUBJECT = "fiscal-calendar"

# ---------------------------------------------------------------------------- fiscal calendar


async def calendar(session: AsyncSession) -> FiscalCalendarState:
    row = await Quotas(session).calendar_row()
    return FiscalCalendarState(fiscal_year_start_month=row["fiscal_year_start_month"], version=row["version"])


async def set_calendar(uow: UnitOfWork, principal: Principal, start_month: int, if_match: str | None) -> dict:
    if not principal.is_admin:
        raise Forbidden("only an admin can change the fiscal calendar")
    session = uow.session
    current = await calendar(session)
    check_if_match(if_match, current.version)
    if start_month == current.fiscal_year_start_month:
        return current.model_dump()
    existing = await Quotas(session).count()
    if existing:
        # Periods such as FY2026-Q1 would silently mean other months for old and new quotas.
        raise Conflict(f"{existing} quotas were set under the current fiscal calendar; it can only change "
                       "before the first quota", field="fiscal_year_start_month")
    new = FiscalCalendarState(fiscal_year_start_month=start_month, version=current.version + 1)
    await Quotas(session).set_calendar(dict(fiscal_year_start_month=start_month, version=new.version,
                                            updated_at=utcnow()))
    uow.publish(DomainEvent("kam.team.fiscal_calendar_changed.v1", CALENDAR_SUBJECT, new.version, FiscalCalendarChanged(
        calendar=new, changes={"fiscal_year_start_month": FieldChange(before=current.fiscal_year_start_month,
                                                                      after=start_month)})))
    return new.model_dump()


async def describe_period(session: AsyncSession, label: str) -> dict:
    cal = await calendar(session)
    period = parse_period(cal, label)
    return {"label": period.label, "kind": period.kind, "start": period.start, "end": period.end,
            "fiscal_year": f"FY{cal.fiscal_year_of(period.start)}"}


# ------------------------------------------------------------------------------------ quotas


def _to_domain(row) -> Quota:
    return Quota(id=row["id"], owner_kind=row["owner_kind"], owner_id=row["owner_id"],
                 responsible_user_id=row["responsible_user_id"], period=row["period"],
                 period_start=row["period_start"], period_end=row["period_end"], currency=row["currency"],
                 amount=from_cents(row["amount_cents"]),
                 approved_amount=from_cents(row["approved_amount_cents"])
                 if row["approved_amount_cents"] is not None else None,
                 status=row["status"], revision=row["revision"], parent_quota_id=row["parent_quota_id"],
                 allocation_method=row["allocation_method"], version=row["version"])


def _columns(q: Quota) -> dict:
    return dict(owner_kind=q.owner_kind, owner_id=q.owner_id, responsible_user_id=q.responsible_user_id,
                period=q.period, period_start=q.period_start, period_end=q.period_end, currency=q.currency,
                amount_cents=to_cents(q.amount),
                approved_amount_cents=to_cents(q.approved_amount) if q.approved_amount is not None else None,
                status=q.status, revision=q.revision, parent_quota_id=q.parent_quota_id,
                allocation_method=q.allocation_method, version=q.version)


async def _insert(session: AsyncSession, q: Quota, by: uuid.UUID) -> None:
    now = utcnow()
    await Quotas(session).add(dict(id=q.id, created_by=by, created_at=now, updated_at=now, **_columns(q)))
    await _write_history(session, q)


async def _update(session: AsyncSession, q: Quota, expected_version: int) -> None:
    if not await Quotas(session).save(q.id, expected_version, dict(updated_at=utcnow(), **_columns(q))):
        raise PreconditionFailed("quota changed concurrently; reload and retry")
    await _write_history(session, q)


async def _write_history(session: AsyncSession, q: Quota) -> None:
    rows = [dict(quota_id=q.id, version=q.version, revision=q.revision, action=action, status=q.status,
                 amount_cents=to_cents(q.amount),
                 approved_amount_cents=to_cents(q.approved_amount) if q.approved_amount is not None else None,
                 reason=reason, actor_id=actor, at=utcnow()) for action, reason, actor in q.history]
    await Quotas(session).add_history(rows)
    q.history.clear()


async def _responsible(session: AsyncSession, owner_kind: str, owner_id: uuid.UUID) -> uuid.UUID | None:
    """Who answers for a quota: the user, or the org unit's manager (None when it has none)."""
    if owner_kind == "user":
        await active_user(session, owner_id, "owner_id")
        return owner_id
    row = await Quotas(session).unit_manager_and_active(owner_id)
    if row is None:
        raise ValidationProblem(f"org unit {owner_id} does not exist", field="owner_id")
    if not row.active:
        raise ValidationProblem(f"org unit {owner_id} is deactivated", field="owner_id")
    return row.manager_id


async def _may_set(session: AsyncSession, principal: Principal, responsible: uuid.UUID | None) -> None:
    """Quotas come from above: an admin, or someone above the person who will answer for it."""
    if principal.is_admin:
        return
    if responsible is None or not await is_above(session, principal.user_id, responsible):
        raise Forbidden("only an admin or someone above the quota's owner can set or change it")


async def _may_decide(session: AsyncSession, principal: Principal, q: Quota) -> dict:
    above = q.responsible_user_id is not None and await is_above(session, principal.user_id, q.responsible_user_id)
    return {"approver_is_above": above, "approver_is_admin": principal.is_admin}


async def _load(session: AsyncSession, principal: Principal, quota_id: uuid.UUID, *, lock: bool = False):
    row = await Quotas(session).row(quota_id, lock=lock)
    if row is None or not await _visible(session, principal, row):
        raise NotFound(f"quota {quota_id} not found")
    return row


async def _visible(session: AsyncSession, principal: Principal, row) -> bool:
    return principal.is_admin or (row["responsible_user_id"] is not None
                                  and await can_see_user(session, principal, row["responsible_user_id"]))


async def create_quota(uow: UnitOfWork, principal: Principal, *, owner_kind: str, owner_id: uuid.UUID, period: str,
                       currency: str, amount: Decimal) -> dict:
    session = uow.session
    currency = validate_currency(currency)
    fiscal_period = parse_period(await calendar(session), period)
    responsible = await _responsible(session, owner_kind, owner_id)
    await _may_set(session, principal, responsible)
    if await Quotas(session).id_of_owner(owner_kind, owner_id, fiscal_period.label):
        raise Conflict(f"{owner_kind} {owner_id} already has a quota for {fiscal_period.label}; change or revise it",
                       field="period")
    q = Quota.set(owner_kind=owner_kind, owner_id=owner_id, responsible_user_id=responsible, period=fiscal_period,
                  currency=currency, amount=amount, by=principal.user_id)
    await _insert(session, q, principal.user_id)
    uow.publish(*q.events)
    return await get_quota(session, principal, q.id)


async def _sum_of_children(session: AsyncSession, parent_id: uuid.UUID, excluding: uuid.UUID | None = None) -> Decimal:
    return from_cents(await Quotas(session).children_cents(parent_id, excluding))


async def _check_over_allocation(session: AsyncSession, principal: Principal, parent: Quota, children_total: Decimal,
                                 reason: str | None) -> None:
    """Children may add up to more than their parent only with a reason, from someone who could
    approve the parent (over-assignment is a management decision, not an accident)."""
    if children_total <= parent.amount:
        return
    excess = children_total - parent.amount
    if not (reason or "").strip():
        raise ValidationProblem(f"the children would add up to {children_total} {parent.currency}, {excess} more than "
                                f"the parent's {parent.amount}; over-allocation needs approval: send "
                                "over_allocation_reason as someone who can approve the parent quota",
                                field="over_allocation_reason", gap=str(-excess))
    rights = await _may_decide(session, principal, parent)
    if principal.user_id == parent.responsible_user_id or not (rights["approver_is_above"]
                                                               or rights["approver_is_admin"]):
        raise Forbidden("over-allocating a quota needs the approval of someone above the parent quota's owner",
                        field="over_allocation_reason")


async def update_quota(uow: UnitOfWork, principal: Principal, quota_id: uuid.UUID, *, amount: Decimal,
                       over_allocation_reason: str | None, if_match: str | None) -> dict:
    session = uow.session
    row = await _load(session, principal, quota_id, lock=True)
    check_if_match(if_match, row["version"])
    q = _to_domain(row)
    await _may_set(session, principal, q.responsible_user_id)
    if q.retarget(amount, principal.user_id) and q.parent_quota_id is not None:
        parent = _to_domain(await _load_any(session, q.parent_quota_id))
        total = await _sum_of_children(session, parent.id, excluding=q.id) + q.amount
        await _check_over_allocation(session, principal, parent, total, over_allocation_reason)
    await _update(session, q, row["version"])
    uow.publish(*q.events)
    return await get_quota(session, principal, q.id)


async def _load_any(session: AsyncSession, quota_id: uuid.UUID):
    return await Quotas(session).existing_row(quota_id)


async def _default_children(session: AsyncSession, parent: Quota) -> list[ChildTarget]:
    """A person's quota goes to their active direct reports; a unit's to its active sub-units or,
    for a unit without sub-units, to its active members."""
    repo = Quotas(session)
    if parent.owner_kind == "user":
        return [ChildTarget("user", i) for i in await repo.active_direct_reports(parent.owner_id)]
    units = await repo.active_sub_units(parent.owner_id)
    if units:
        return [ChildTarget("org_unit", i) for i in units]
    ids = await repo.active_members(parent.owner_id)
    return [ChildTarget("user", i) for i in ids]


async def _check_within(session: AsyncSession, parent: Quota, child: ChildTarget) -> None:
    """A child of a top-down split sits below the parent's owner (in the hierarchy or the unit tree)."""
    if parent.owner_kind == "user":
        if child.owner_kind != "user" or not await is_above(session, parent.owner_id, child.owner_id):
            raise ValidationProblem(f"{child.owner_kind} {child.owner_id} is not below the parent quota's owner",
                                    field="children")
        return
    repo = Quotas(session)
    unit_path = await repo.unit_path(parent.owner_id)
    if child.owner_kind == "org_unit":
        child_path = await repo.unit_path(child.owner_id)
        inside = child_path is not None and child_path != unit_path and child_path.startswith(unit_path)
    else:
        placed = await repo.placement_path(child.owner_id)
        inside = placed is not None and placed.startswith(unit_path)
    if not inside:
        raise ValidationProblem(f"{child.owner_kind} {child.owner_id} is not inside the parent quota's org unit",
                                field="children")


async def _last_year_won(session: AsyncSession, parent: Quota, children: list[ChildTarget]) -> dict[uuid.UUID, int]:
    cal = await calendar(session)
    period = cal.shift_years(parse_period(cal, parent.period), -1)
    out = {}
    for child in children:
        owners = (await unit_scope(session, child.owner_id) if child.owner_kind == "org_unit"
                  else await user_scope(session, child.owner_id, rollup=True))
        out[child.owner_id] = (await won_by_currency(session, owners, period.start, period.end)).get(parent.currency, 0)
    return out


async def allocate(uow: UnitOfWork, principal: Principal, quota_id: uuid.UUID, *, method: str,
                   children: list[dict] | None, uplift_percent: Decimal, over_allocation_reason: str | None,
                   if_match: str | None) -> dict:
    session = uow.session
    row = await _load(session, principal, quota_id, lock=True)
    check_if_match(if_match, row["version"])
    parent = _to_domain(row)
    targets = ([ChildTarget(c["owner_kind"], c["owner_id"], c.get("weight"), c.get("amount")) for c in children]
               if children else await _default_children(session, parent))
    for child in targets:
        await _check_within(session, parent, child)
    allocation = split(parent.amount, method, targets, uplift_percent=uplift_percent,
                       last_year_won_cents=await _last_year_won(session, parent, targets)
                       if method == "last_year_won" else None)
    # Children already allocated from this parent but not in this split keep their targets.
    others = await _sum_of_children(session, parent.id)
    kept = others - sum((from_cents(c) for c in await Quotas(session).children_cents_of_owners(
        parent.id, [t.owner_id for t in targets])), Decimal("0.00"))
    await _check_over_allocation(session, principal, parent, kept + allocation.allocated, over_allocation_reason)
    period = parse_period(await calendar(session), parent.period)
    published: list[DomainEvent] = []
    split_children: list[QuotaChild] = []
    for child, amount, weight in zip(targets, allocation.amounts, allocation.weights, strict=True):
        responsible = await _responsible(session, child.owner_kind, child.owner_id)
        await _may_set(session, principal, responsible)
        existing = await Quotas(session).of_owner(child.owner_kind, child.owner_id, parent.period)
        if existing is None:
            q = Quota.set(owner_kind=child.owner_kind, owner_id=child.owner_id, responsible_user_id=responsible,
                          period=period, currency=parent.currency, amount=amount, by=principal.user_id,
                          parent_quota_id=parent.id)
            await _insert(session, q, principal.user_id)
        else:
            q = _to_domain(existing)
            if q.currency != parent.currency:
                raise Conflict(f"{child.owner_kind} {child.owner_id} already has a {parent.period} quota in "
                               f"{q.currency}, not {parent.currency}", field="children")
            if q.status != "draft":
                raise Conflict(f"{child.owner_kind} {child.owner_id} already has a {q.status} quota for "
                               f"{parent.period}; revise it instead of re-allocating", field="children")
            q.retarget(amount, principal.user_id, parent_quota_id=parent.id)
            await _update(session, q, existing["version"])
        published += q.events
        split_children.append(QuotaChild(quota_id=q.id, owner_kind=child.owner_kind, owner_id=child.owner_id,
                                         amount=amount, weight=weight))
    parent.record_allocation(method, split_children, allocation, principal.user_id,
                             over_allocation_reason=over_allocation_reason)
    await _update(session, parent, row["version"])
    uow.publish(*parent.events, *published)
    return await get_quota(session, principal, parent.id)


async def transition(uow: UnitOfWork, principal: Principal, quota_id: uuid.UUID, action: str, *,
                     reason: str | None = None, amount: Decimal | None = None, if_match: str | None = None) -> dict:
    session = uow.session
    row = await _load(session, principal, quota_id, lock=True)
    check_if_match(if_match, row["version"])
    q = _to_domain(row)
    if action == "submit":
        if principal.user_id != q.responsible_user_id:
            await _may_set(session, principal, q.responsible_user_id)
        q.submit(principal.user_id)
    elif action == "approve":
        q.approve(principal.user_id, **await _may_decide(session, principal, q))
    elif action == "reject":
        q.reject(principal.user_id, reason, **await _may_decide(session, principal, q))
    elif action == "revise":
        await _may_set(session, principal, q.responsible_user_id)
        q.revise(amount, reason, principal.user_id)
    await _update(session, q, row["version"])
    uow.publish(*q.events)
    return await get_quota(session, principal, q.id)


def _present(row) -> dict:
    out = {k: row[k] for k in ("id", "owner_kind", "owner_id", "responsible_user_id", "period", "period_start",
                               "period_end", "currency", "status", "revision", "parent_quota_id", "allocation_method",
                               "version", "created_at", "updated_at")}
    out["amount"] = from_cents(row["amount_cents"])
    out["approved_amount"] = (from_cents(row["approved_amount_cents"])
                              if row["approved_amount_cents"] is not None else None)
    return out


async def get_quota(session: AsyncSession, principal: Principal, quota_id: uuid.UUID) -> dict:
    row = await _load(session, principal, quota_id)
    out = _present(row)
    kids = await Quotas(session).children(quota_id)
    allocated = sum((from_cents(k["amount_cents"]) for k in kids), Decimal("0.00"))
    out["children"] = [{k: c[k] for k in ("id", "owner_kind", "owner_id", "status", "version")}
                       | {"amount": from_cents(c["amount_cents"])} for c in kids]
    out["allocated_amount"] = allocated if kids else None
    # Children that do not add up show the gap (negative: over-allocated).
    out["gap"] = (out["amount"] - allocated) if kids else None
    return out


async def list_quotas(session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None,
                      **filters) -> dict:
    visible = await visible_user_ids(session, principal)
    items, next_cursor = await Quotas(session).page(limit=limit, cursor=cursor, filters=filters, visible=visible,
                                                    present=_present)
    return {"items": items, "next_cursor": next_cursor}


async def history(session: AsyncSession, principal: Principal, quota_id: uuid.UUID) -> list[dict]:
    await _load(session, principal, quota_id)
    rows = await Quotas(session).history(quota_id)
    return [{"version": r["version"], "revision": r["revision"], "action": r["action"], "status": r["status"],
             "amount": from_cents(r["amount_cents"]),
             "approved_amount": from_cents(r["approved_amount_cents"]) if r["approved_amount_cents"] is not None
             else None, "reason": r["reason"], "actor_id": r["actor_id"], "at": r["at"]} for r in rows]


async def attainment_of(session: AsyncSession, principal: Principal, quota_id: uuid.UUID) -> dict:
    return await quota_attainment(session, await _load(session, principal, quota_id))
