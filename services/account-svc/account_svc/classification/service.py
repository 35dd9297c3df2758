"""Tier recommendation, the Pareto view and classifying an account, from the won opportunities
account-svc replicates. Builds on the accounts slice (one way)."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import ValidationProblem
from kam_shared.money import from_cents, validate_currency

from ..accounts.service import get_account, load_for_change, save, visible_scope
from ..whitespace.consumers import account_segment_changed
from .domain import Pareto, TierInputs, pareto, recommend_tier, revenue_window
from .repository import WonRevenueRepository

MAX_SCORE = 100


async def tier_recommendation(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                              currency: str = "CNY", today: dt.date | None = None) -> dict:
    account = await get_account(session, runtime, principal, account_id)
    currency = validate_currency(currency)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    start, end = revenue_window(today)
    repo = WonRevenueRepository(session)
    # Rank among all accounts (not only the caller's): a tier is a company-wide judgement.
    ranking = pareto(await repo.by_account(currency, start, end))
    by_year = await repo.by_year(account_id, currency)
    result = recommend_tier(TierInputs(
        today=today, currency=currency, won_cents_by_year=by_year, pareto_entry=ranking.class_of(account_id),
        gross_margin_pct=account["gross_margin_pct"], strategic_flags=tuple(account["strategic_flags"])))
    return {"account_id": account_id, "score": result.score, "max_score": MAX_SCORE,
            "recommended_tier": result.recommended_tier, "current_tier": account["tier"],
            "criteria": [c.__dict__ for c in result.criteria], "caps": result.caps, "currency": currency,
            "revenue_window": {"from": start, "to": end}}


def _split_by_currency(rows, info: dict, currency: str) -> tuple[dict[uuid.UUID, int], dict[str, int]]:
    """Won cents per visible account in `currency`, and the totals of other currencies (never
    converted or summed in: listed beside)."""
    revenue: dict[uuid.UUID, int] = {}
    other_cents: dict[str, int] = {}
    for r in rows:
        if r.effective_account_id not in info:
            continue
        if r.currency == currency:
            revenue[r.effective_account_id] = int(r.cents)
        else:
            other_cents[r.currency] = other_cents.get(r.currency, 0) + int(r.cents)
    return revenue, other_cents


def _pareto_items(ranking: Pareto, info: dict, limit: int) -> list[dict]:
    return [{"account_id": e.account_id, "name": info[e.account_id]["name"],
             "owner_id": info[e.account_id]["owner_id"], "tier": info[e.account_id]["tier"], "rank": e.rank,
             "won_amount": from_cents(e.won_cents), "share_pct": e.share_pct,
             "cumulative_pct": e.cumulative_pct, "pareto_class": e.pareto_class,
             "in_top": e.pareto_class == "A"} for e in ranking.entries[:limit]]


async def pareto_view(session: AsyncSession, runtime: Runtime, principal: Principal, *, currency: str,
                      since: dt.date | None, until: dt.date | None, threshold_pct: Decimal, limit: int) -> dict:
    """Which of the accounts the caller may see make up `threshold_pct` of their won revenue."""
    currency = validate_currency(currency)
    repo = WonRevenueRepository(session)
    owners, teams = await visible_scope(session, runtime, principal)
    rows = await repo.by_account_and_currency(since, until)
    info = {}
    if rows:
        found = await repo.account_info({r.effective_account_id for r in rows})
        info = {r["id"]: r for r in found if owners is None or r["owner_id"] in owners or r["id"] in teams}
    revenue, other_cents = _split_by_currency(rows, info, currency)
    ranking = pareto(revenue, threshold_pct)
    top = ranking.top
    with_revenue = len(ranking.entries)
    return {
        "currency": currency, "threshold_pct": ranking.threshold_pct, "since": since, "until": until,
        "total_won": from_cents(ranking.total_cents), "accounts_with_revenue": with_revenue,
        "top_accounts": len(top),
        "top_share_of_accounts_pct": (Decimal(len(top) * 100) / with_revenue).quantize(Decimal("0.01"))
        if with_revenue else Decimal(0),
        "items": _pareto_items(ranking, info, limit),
        "other_currencies": {cur: from_cents(c) for cur, c in sorted(other_cents.items())},
    }


async def classify(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID, *,
                   type: str | None, tier: str | None, apply_recommendation: bool, reason: str | None,
                   currency: str = "CNY", if_match: str | None) -> dict:
    session = uow.session
    account = await load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    segment = (account.industry, account.tier)
    score = None
    if apply_recommendation:
        if tier is not None:
            raise ValidationProblem("give a tier or apply_recommendation, not both", field="tier")
        recommendation = await tier_recommendation(session, runtime, principal, account_id, currency)
        tier, score = recommendation["recommended_tier"], recommendation["score"]
        reason = reason or f"tier score {score}/100"
    before = account.version
    if account.classify(type=type, tier=tier, reason=reason, score=score, by=principal.user_id):
        await save(uow, account, before)
        await account_segment_changed(session, account.id, segment, (account.industry, account.tier))
    return await get_account(session, runtime, principal, account_id)
