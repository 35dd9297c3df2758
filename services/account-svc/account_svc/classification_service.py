"""Tier recommendation and the Pareto view, from the won opportunities account-svc replicates."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.money import from_cents, validate_currency

from .domain.classification import TierInputs, pareto, recommend_tier, revenue_window
from .models import accounts, opportunity_replica as opps
from .service import get_account

MAX_SCORE = 100


def _won(since: dt.date | None, until: dt.date | None):
    """Won revenue by account and currency. A merged account's opportunities count for its survivor
    even before opportunity-svc has re-pointed them."""
    account = func.coalesce(accounts.c.merged_into_id, opps.c.account_id).label("effective_account_id")
    query = (select(account, opps.c.currency, func.sum(opps.c.amount_cents).label("cents"))
             .select_from(opps.outerjoin(accounts, accounts.c.id == opps.c.account_id))
             .where(opps.c.status == "won").group_by(account, opps.c.currency))
    if since:
        query = query.where(opps.c.close_date >= since)
    if until:
        query = query.where(opps.c.close_date <= until)
    return query


async def won_by_account(session: AsyncSession, currency: str, since: dt.date | None,
                         until: dt.date | None) -> dict[uuid.UUID, int]:
    rows = (await session.execute(_won(since, until).where(opps.c.currency == currency))).all()
    return {r.effective_account_id: int(r.cents) for r in rows}


async def tier_recommendation(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                              currency: str = "CNY", today: dt.date | None = None) -> dict:
    account = await get_account(session, runtime, principal, account_id)
    currency = validate_currency(currency)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    start, end = revenue_window(today)
    # Rank among all accounts (not only the caller's): a tier is a company-wide judgement.
    ranking = pareto(await won_by_account(session, currency, start, end))
    year = func.extract("year", opps.c.close_date)
    ids = select(accounts.c.id).where((accounts.c.id == account_id) | (accounts.c.merged_into_id == account_id))
    by_year = {int(r.year): int(r.cents) for r in (await session.execute(
        select(year.label("year"), func.sum(opps.c.amount_cents).label("cents"))
        .where(opps.c.status == "won", opps.c.currency == currency, opps.c.account_id.in_(ids))
        .group_by(year))).all()}
    result = recommend_tier(TierInputs(
        today=today, currency=currency, won_cents_by_year=by_year, pareto_entry=ranking.class_of(account_id),
        gross_margin_pct=account["gross_margin_pct"], strategic_flags=tuple(account["strategic_flags"])))
    return {"account_id": account_id, "score": result.score, "max_score": MAX_SCORE,
            "recommended_tier": result.recommended_tier, "current_tier": account["tier"],
            "criteria": [c.__dict__ for c in result.criteria], "caps": result.caps, "currency": currency,
            "revenue_window": {"from": start, "to": end}}


async def pareto_view(session: AsyncSession, runtime: Runtime, principal: Principal, *, currency: str,
                      since: dt.date | None, until: dt.date | None, threshold_pct: Decimal, limit: int) -> dict:
    """Which of the accounts the caller may see make up `threshold_pct` of their won revenue."""
    currency = validate_currency(currency)
    owners = await runtime.visibility.owner_ids(session, principal)
    rows = (await session.execute(_won(since, until))).all()
    info = {}
    if rows:
        found = (await session.execute(select(accounts.c.id, accounts.c.name, accounts.c.owner_id, accounts.c.tier)
                                       .where(accounts.c.id.in_({r.effective_account_id for r in rows})))).mappings().all()
        info = {r["id"]: r for r in found if owners is None or r["owner_id"] in owners}
    revenue: dict[uuid.UUID, int] = {}
    other_cents: dict[str, int] = {}
    for r in rows:
        if r.effective_account_id not in info:
            continue
        if r.currency == currency:
            revenue[r.effective_account_id] = int(r.cents)
        else:  # never converted or summed in: listed beside
            other_cents[r.currency] = other_cents.get(r.currency, 0) + int(r.cents)
    ranking = pareto(revenue, threshold_pct)
    others = {cur: from_cents(c) for cur, c in sorted(other_cents.items())}
    top = ranking.top
    with_revenue = len(ranking.entries)
    return {
        "currency": currency, "threshold_pct": ranking.threshold_pct, "since": since, "until": until,
        "total_won": from_cents(ranking.total_cents), "accounts_with_revenue": with_revenue,
        "top_accounts": len(top),
        "top_share_of_accounts_pct": (Decimal(len(top) * 100) / with_revenue).quantize(Decimal("0.01"))
        if with_revenue else Decimal(0),
        "items": [{"account_id": e.account_id, "name": info[e.account_id]["name"],
                   "owner_id": info[e.account_id]["owner_id"], "tier": info[e.account_id]["tier"], "rank": e.rank,
                   "won_amount": from_cents(e.won_cents), "share_pct": e.share_pct,
                   "cumulative_pct": e.cumulative_pct, "pareto_class": e.pareto_class,
                   "in_top": e.pareto_class == "A"} for e in ranking.entries[:limit]],
        "other_currencies": others,
    }
