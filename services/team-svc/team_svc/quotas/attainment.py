"""Attainment: closed-won revenue (from the opportunity replica) per person, rolled up the
hierarchy or over an org unit, for a period of the fiscal calendar, against the approved quota."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.auth import Principal
from kam_shared.domain_errors import NotFound
from kam_shared.money import from_cents

from ..common.hierarchy import can_see_user, user_path
from .repository import Quotas


def percent(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def user_scope(session: AsyncSession, user_id: uuid.UUID, *, rollup: bool):
    """The owners whose wins count for a person: themselves, or their whole subtree."""
    if not rollup:
        return Quotas.user_scope(user_id, None)
    path = await user_path(session, user_id)
    if path is None:
        raise NotFound(f"user {user_id} not found")
    return Quotas.user_scope(user_id, path)


async def unit_scope(session: AsyncSession, unit_id: uuid.UUID):
    """Everyone placed in the unit or any unit below it (by current placement)."""
    path = await Quotas(session).unit_path(unit_id)
    if path is None:
        raise NotFound(f"org unit {unit_id} not found")
    return Quotas.unit_scope(path)


async def won_by_currency(session: AsyncSession, owners, start: dt.date, end: dt.date) -> dict[str, int]:
    """Closed-won cents per currency of opportunities owned by `owners`, closing in [start, end)."""
    return await Quotas(session).won_by_currency(owners, start, end)


async def pipeline_by_currency(session: AsyncSession, owners, start: dt.date,
                               end: dt.date) -> dict[str, tuple[int, int]]:
    """Open pipeline closing in [start, end): {currency: (amount cents, weighted cents × 100)}."""
    return await Quotas(session).pipeline_by_currency(owners, start, end)


async def scope_of_quota(session: AsyncSession, quota_row):
    if quota_row["owner_kind"] == "org_unit":
        return await unit_scope(session, quota_row["owner_id"])
    return await user_scope(session, quota_row["owner_id"], rollup=True)


async def quota_attainment(session: AsyncSession, quota_row) -> dict:
    won = await won_by_currency(session, await scope_of_quota(session, quota_row), quota_row["period_start"],
                                quota_row["period_end"])
    won_amount = from_cents(won.pop(quota_row["currency"], 0))
    target = from_cents(quota_row["approved_amount_cents"]) if quota_row["approved_amount_cents"] is not None else None
    return {"quota_id": quota_row["id"], "period": quota_row["period"], "currency": quota_row["currency"],
            "target": target, "won_amount": won_amount, "attainment_percent": percent(won_amount, target),
            "other_currencies": {c: from_cents(v) for c, v in won.items()}}


async def _approved_quota(session: AsyncSession, user_id: uuid.UUID, period: str):
    return await Quotas(session).of_owner("user", user_id, period)


async def person_attainment(session: AsyncSession, principal: Principal, user_id: uuid.UUID, period, currency: str,
                            *, with_reports: bool = True) -> dict:
    """A person's own wins, their team's (rolled up), their quota, and the same for each direct report."""
    if not await can_see_user(session, principal, user_id):
        raise NotFound(f"user {user_id} not found")
    own = await won_by_currency(session, await user_scope(session, user_id, rollup=False), period.start, period.end)
    team = await won_by_currency(session, await user_scope(session, user_id, rollup=True), period.start, period.end)
    quota = await _approved_quota(session, user_id, period.label)
    target = None
    if quota is not None and quota["currency"] == currency and quota["approved_amount_cents"] is not None:
        target = from_cents(quota["approved_amount_cents"])
    rollup_won = from_cents(team.get(currency, 0))
    out = {"user_id": user_id, "period": period.label, "period_start": period.start, "period_end": period.end,
           "currency": currency, "own_won_amount": from_cents(own.get(currency, 0)), "rollup_won_amount": rollup_won,
           "quota": None if quota is None else {
               "id": quota["id"], "status": quota["status"], "currency": quota["currency"],
               "amount": from_cents(quota["amount_cents"]),
               "approved_amount": from_cents(quota["approved_amount_cents"])
               if quota["approved_amount_cents"] is not None else None},
           "attainment_percent": percent(rollup_won, target),
           "other_currencies": {c: from_cents(v) for c, v in team.items() if c != currency}}
    if with_reports:
        reports = await Quotas(session).direct_reports(user_id)
        out["direct_reports"] = []
        for report_id, name in reports:
            sub = await person_attainment(session, principal, report_id, period, currency, with_reports=False)
            out["direct_reports"].append({"user_id": report_id, "name": name,
                                          "rollup_won_amount": sub["rollup_won_amount"],
                                          "quota_amount": (sub["quota"] or {}).get("approved_amount"),
                                          "attainment_percent": sub["attainment_percent"]})
    return out
