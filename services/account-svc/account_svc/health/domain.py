"""Account health and churn risk (流失): a 0-100 score from seven parts, each scored 0-100 on its own,
explained in words and with the facts behind it, then weighted by the admin's health model.

Pure: the caller gathers the facts (HealthInputs) and passes `now`; nothing here reads a clock or a
database. Bands: healthy ≥ 70 > watch ≥ 40 > at_risk.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from kam_shared.domain_errors import ValidationProblem

from ..records.domain.buying_centre import coverage_gaps

PARTS = ("interactions", "complaints", "revenue_trend", "lost_deals", "buying_centre", "relationship_stage",
         "plan_actions")
TITLES = {"interactions": "Interactions against the tier norm", "complaints": "Open complaints and their age",
          "revenue_trend": "Won revenue this year against last year",
          "lost_deals": "Lost opportunities and to whom", "buying_centre": "Buying-centre coverage and relationships",
          "relationship_stage": "Relationship stage", "plan_actions": "Plan actions overdue"}
DEFAULT_WEIGHTS = {"interactions": 25, "complaints": 15, "revenue_trend": 20, "lost_deals": 10, "buying_centre": 15,
                   "relationship_stage": 5, "plan_actions": 10}
HEALTHY, WATCH = 70, 40
BANDS = ("healthy", "watch", "at_risk")

# Per tier: (expected days between interactions, expected interactions a year). No tier: ordinary.
TIER_NORMS = {"key": (30, 12), "key_development": (45, 8), "ordinary": (90, 4), "deprioritised": (180, 2)}
SEVERITY_PENALTY = {"low": 10, "medium": 20, "high": 35, "critical": 50}
GAP_PENALTY = {"no_decision_maker": 30, "no_executive_contact": 15, "decision_maker_opposed": 25,
               "weak_decision_maker_relationship": 15, "no_coach": 10, "blocker": 10}
DEPARTMENT_GAP_PENALTY = 5
STRENGTH_VALUE = {"none": 0, "weak": 33, "moderate": 67, "strong": 100}
STAGE_SCORE = {"building": 40, "stable": 70, "strengthening": 100}
NO_PLAN_SCORE = 20
LOOKBACK_DAYS = 365


def band_of(score: int) -> str:
    return "healthy" if score >= HEALTHY else "watch" if score >= WATCH else "at_risk"


def check_weights(weights: dict) -> dict[str, int]:
    """The admin's weights: every part named once, whole non-negative numbers summing to 100."""
    if not isinstance(weights, dict):
        raise ValidationProblem("weights must be an object of part → weight", field="weights")
    unknown = sorted(set(weights) - set(PARTS))
    if unknown:
        raise ValidationProblem(f"weights.{unknown[0]}: unknown part; the parts are {', '.join(PARTS)}",
                                field=f"weights.{unknown[0]}")
    missing = [p for p in PARTS if p not in weights]
    if missing:
        raise ValidationProblem(f"weights.{missing[0]}: missing; give a weight (0 allowed) for every part",
                                field=f"weights.{missing[0]}")
    for part in PARTS:
        value = weights[part]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationProblem(f"weights.{part}: must be a whole number", field=f"weights.{part}")
        if value < 0:
            raise ValidationProblem(f"weights.{part}: must not be negative (got {value})", field=f"weights.{part}")
    total = sum(weights[p] for p in PARTS)
    if total != 100:
        raise ValidationProblem(f"weights must sum to 100 (they sum to {total})", field="weights")
    return {p: weights[p] for p in PARTS}


# --- the facts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Complaint:
    id: str
    subject: str
    severity: str
    status: str
    raised_at: dt.datetime


@dataclass(frozen=True)
class LostDeal:
    id: str
    close_date: dt.date
    amount_cents: int
    currency: str
    competitor: str | None
    reason: str | None


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    status: str
    relationship_stage: str
    actions: tuple[dict, ...] = ()


@dataclass(frozen=True)
class HealthInputs:
    tier: str | None = None
    last_interaction_at: dt.datetime | None = None
    interactions_last_year: int = 0
    open_complaints: tuple[Complaint, ...] = ()
    currency: str = "CNY"
    won_cents_this_year: int = 0  # 1 January up to today
    won_cents_last_year: int = 0  # the same days of last year
    won_count_last_year: int = 0  # won in the lookback window (for the lost ratio)
    lost: tuple[LostDeal, ...] = ()  # lost in the lookback window
    contacts: tuple[dict, ...] = ()
    plans: tuple[Plan, ...] = ()  # draft and active plans


@dataclass(frozen=True)
class Part:
    key: str
    score: int
    summary: str
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    score: int
    band: str
    parts: list[dict]


def _clamp(value: float) -> int:
    return int(max(0, min(100, round(value))))


# --- the parts ------------------------------------------------------------------------------------

def interactions_part(i: HealthInputs, now: dt.datetime) -> Part:
    tier = i.tier if i.tier in TIER_NORMS else "ordinary"
    interval, per_year = TIER_NORMS[tier]
    frequency = _clamp(100 * i.interactions_last_year / per_year)
    facts = {"tier_norm": tier, "expected_interval_days": interval, "expected_per_year": per_year,
             "interactions_last_365_days": i.interactions_last_year,
             "last_interaction_at": i.last_interaction_at.isoformat() if i.last_interaction_at else None}
    if i.last_interaction_at is None:
        return Part("interactions", 0, f"no interaction recorded; a {tier} account expects one every {interval} days",
                    {**facts, "days_since_last": None})
    days = max(0, (now - i.last_interaction_at).days)
    # Full marks within the norm, none at three times it.
    recency = 100 if days <= interval else _clamp(100 * (3 * interval - days) / (2 * interval))
    score = _clamp((recency + frequency) / 2)
    summary = (f"last interaction {days} days ago (norm for a {tier} account: every {interval} days); "
               f"{i.interactions_last_year} in the last 365 days against {per_year} expected")
    return Part("interactions", score, summary, {**facts, "days_since_last": days, "recency_score": recency,
                                                  "frequency_score": frequency})


def complaints_part(i: HealthInputs, now: dt.datetime) -> Part:
    if not i.open_complaints:
        return Part("complaints", 100, "no open complaints", {"open": 0, "complaints": []})
    penalty, listed = 0, []
    for c in sorted(i.open_complaints, key=lambda c: c.raised_at):
        age = max(0, (now - c.raised_at).days)
        ageing = 20 if age > 90 else 10 if age > 30 else 0
        penalty += SEVERITY_PENALTY.get(c.severity, 20) + ageing
        listed.append({"id": c.id, "subject": c.subject, "severity": c.severity, "status": c.status,
                       "age_days": age})
    oldest = listed[0]
    summary = (f"{len(listed)} open complaint{'s' if len(listed) != 1 else ''}; the oldest "
               f"({oldest['severity']}) has been open {oldest['age_days']} days")
    return Part("complaints", _clamp(100 - penalty), summary, {"open": len(listed), "complaints": listed})


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def revenue_part(i: HealthInputs, now: dt.datetime) -> Part:
    this, last = i.won_cents_this_year, i.won_cents_last_year
    facts = {"currency": i.currency, "won_this_year": _money(this), "won_same_period_last_year": _money(last),
             "period": f"1 January to {now.date().strftime('%d %B')}"}
    if this == 0 and last == 0:
        return Part("revenue_trend", 50, f"nothing won this year or in the same period last year ({i.currency})",
                    {**facts, "change_pct": None})
    if last == 0:
        return Part("revenue_trend", 100, f"won {_money(this)} {i.currency} this year, nothing in the same period "
                                          "last year", {**facts, "change_pct": None})
    ratio = this / last
    # Flat revenue scores 80; every point of decline costs 0.8; growth of 10 % or more is full marks.
    score = _clamp(80 * ratio if ratio < 1 else 80 + 200 * (ratio - 1))
    change = round((ratio - 1) * 100, 1)
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    summary = (f"won revenue {direction} {abs(change)} %: {_money(this)} {i.currency} this year against "
               f"{_money(last)} in the same period last year")
    return Part("revenue_trend", score, summary, {**facts, "change_pct": change})


def lost_part(i: HealthInputs, now: dt.datetime) -> Part:
    lost, won = len(i.lost), i.won_count_last_year
    by_competitor: dict[str, int] = {}
    for d in i.lost:
        name = d.competitor or "unknown / no decision"
        by_competitor[name] = by_competitor.get(name, 0) + 1
    facts = {"lost_last_365_days": lost, "won_last_365_days": won, "by_competitor": by_competitor,
             "lost": [{"opportunity_id": d.id, "close_date": d.close_date.isoformat(),
                       "amount": _money(d.amount_cents), "currency": d.currency, "competitor": d.competitor,
                       "reason": d.reason} for d in sorted(i.lost, key=lambda d: d.close_date, reverse=True)]}
    if not lost:
        return Part("lost_deals", 100, "no opportunity lost in the last 365 days", facts)
    score = _clamp(100 * (won + 1) / (won + lost + 1))
    to_whom = ", ".join(f"{n} to {c}" for c, n in sorted(by_competitor.items(), key=lambda kv: (-kv[1], kv[0])))
    return Part("lost_deals", score, f"{lost} lost and {won} won in the last 365 days ({to_whom})", facts)


def _gap_penalty(code: str) -> int:
    if code.startswith("no_") and code.endswith("_contact") and code != "no_executive_contact":
        return DEPARTMENT_GAP_PENALTY
    return GAP_PENALTY.get(code, 0)


def buying_centre_part(i: HealthInputs, now: dt.datetime) -> Part:
    active = [c for c in i.contacts if c.get("active", True)]
    if not active:
        return Part("buying_centre", 0, "no contacts at the account: nobody in the buying centre is known",
                    {"contacts": 0, "gaps": [], "average_relationship": None})
    gaps = coverage_gaps(active)
    coverage = _clamp(100 - sum(_gap_penalty(g.code) for g in gaps))
    strengths = [STRENGTH_VALUE[c["relationship_strength"]] for c in active
                 if c.get("relationship_strength") in STRENGTH_VALUE]
    average = round(sum(strengths) / len(strengths)) if strengths else 0
    score = _clamp(0.6 * coverage + 0.4 * average)
    words = "; ".join(g.detail for g in gaps) if gaps else "no coverage gaps"
    summary = f"{len(active)} contacts, relationship strength {average}/100 on average; {words}"
    return Part("buying_centre", score, summary, {"contacts": len(active), "coverage_score": coverage,
                                                  "average_relationship": average,
                                                  "gaps": [{"code": g.code, "detail": g.detail} for g in gaps]})


def _current_plan(plans: tuple[Plan, ...]) -> Plan | None:
    active = [p for p in plans if p.status == "active"]
    return (active or list(plans) or [None])[0]


def stage_part(i: HealthInputs, now: dt.datetime) -> Part:
    plan = _current_plan(i.plans)
    if plan is None:
        return Part("relationship_stage", NO_PLAN_SCORE, "no draft or active account plan: the relationship stage "
                                                         "is not being managed", {"plan_id": None, "stage": None})
    stage = plan.relationship_stage
    return Part("relationship_stage", STAGE_SCORE.get(stage, NO_PLAN_SCORE),
                f"relationship stage {stage} (building → stable → strengthening) in {plan.status} plan '{plan.title}'",
                {"plan_id": plan.id, "plan_status": plan.status, "stage": stage})


def actions_part(i: HealthInputs, now: dt.datetime) -> Part:
    today = now.date()
    open_actions, overdue = [], []
    for plan in i.plans:
        for a in plan.actions:
            if a.get("status", "open") != "open":
                continue
            due = a["due_date"] if isinstance(a["due_date"], dt.date) else dt.date.fromisoformat(str(a["due_date"]))
            open_actions.append(a)
            if due < today:
                overdue.append({"plan_id": plan.id, "action_id": str(a.get("id")), "description": a["description"],
                                "owner_id": str(a.get("owner_id")), "due_date": due.isoformat(),
                                "days_overdue": (today - due).days})
    facts = {"open": len(open_actions), "overdue": sorted(overdue, key=lambda a: -a["days_overdue"])}
    if not overdue:
        return Part("plan_actions", 100, f"no plan action overdue ({len(open_actions)} open)", facts)
    long_overdue = sum(1 for a in overdue if a["days_overdue"] > 30)
    score = _clamp(100 * (len(open_actions) - len(overdue)) / len(open_actions) - 10 * long_overdue)
    worst = facts["overdue"][0]
    summary = (f"{len(overdue)} of {len(open_actions)} open plan actions overdue; the worst, "
               f"'{worst['description']}', by {worst['days_overdue']} days")
    return Part("plan_actions", score, summary, facts)


SCORERS = {"interactions": interactions_part, "complaints": complaints_part, "revenue_trend": revenue_part,
           "lost_deals": lost_part, "buying_centre": buying_centre_part, "relationship_stage": stage_part,
           "plan_actions": actions_part}


def weigh(part_scores: dict[str, int], weights: dict[str, int]) -> int:
    """The total: Σ part score × weight / 100, rounded half up."""
    exact = sum(Decimal(part_scores.get(p, 0)) * weights.get(p, 0) for p in PARTS) / 100
    return int(exact.quantize(Decimal("1"), rounding="ROUND_HALF_UP"))


def _points(score: int, weight: int) -> Decimal:
    return (Decimal(score) * weight / 100).quantize(Decimal("0.01"))


def with_weights(parts: list[dict], weights: dict[str, int]) -> Health:
    """Stored parts (key, score, ...) re-weighted by another model: the part scores do not change."""
    reweighed = [{**p, "weight": weights.get(p["key"], 0), "points": _points(p["score"], weights.get(p["key"], 0))}
                 for p in parts]
    score = weigh({p["key"]: p["score"] for p in parts}, weights)
    return Health(score=score, band=band_of(score), parts=reweighed)


def score_health(inputs: HealthInputs, weights: dict[str, int], now: dt.datetime) -> Health:
    parts = [SCORERS[key](inputs, now) for key in PARTS]
    return with_weights([{"key": p.key, "title": TITLES[p.key], "score": p.score, "summary": p.summary,
                          "facts": p.facts} for p in parts], weights)
