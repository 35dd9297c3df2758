"""Account health scoring (health/domain.py): pure, `now` passed in."""
import datetime as dt
import uuid

import pytest

from account_svc.account_team.domain import remove_member, set_member
from account_svc.health.domain import (
    DEFAULT_WEIGHTS,
    PARTS,
    Complaint,
    HealthInputs,
    LostDeal,
    Plan,
    band_of,
    check_weights,
    score_health,
    with_weights,
)
from kam_shared.domain_errors import NotFound, ValidationProblem

NOW = dt.datetime(2026, 6, 30, 12, tzinfo=dt.timezone.utc)


def parts(health):
    return {p["key"]: p for p in health.parts}


def healthy_inputs(**overrides) -> HealthInputs:
    values = dict(
        tier="key", last_interaction_at=NOW - dt.timedelta(days=5), interactions_last_year=14,
        won_cents_this_year=1_200_000, won_cents_last_year=1_000_000, won_count_last_year=3,
        contacts=({"id": uuid.uuid4(), "name": "CIO", "department": "using", "level": "executive",
                   "buying_role": "decision_maker", "attitude": "supporter", "relationship_strength": "strong"},
                  {"id": uuid.uuid4(), "name": "Buyer", "department": "procurement", "level": "management",
                   "buying_role": "procurement", "relationship_strength": "strong"},
                  {"id": uuid.uuid4(), "name": "Coach", "department": "support", "level": "management",
                   "buying_role": "coach", "relationship_strength": "strong"}),
        plans=(Plan("p1", "FY26", "active", "strengthening",
                    ({"id": "a1", "description": "QBR", "owner_id": "u", "due_date": dt.date(2026, 9, 1),
                      "status": "open"},)),))
    values.update(overrides)
    return HealthInputs(**values)


def test_a_well_covered_growing_account_is_healthy_and_every_part_explains_itself():
    health = score_health(healthy_inputs(), DEFAULT_WEIGHTS, NOW)
    assert health.band == "healthy" and health.score >= 90
    assert [p["key"] for p in health.parts] == list(PARTS)
    by = parts(health)
    assert by["interactions"]["facts"]["days_since_last"] == 5 and by["interactions"]["score"] == 100
    assert "up 20.0 %" in by["revenue_trend"]["summary"] and by["revenue_trend"]["score"] == 100
    assert sum(p["weight"] for p in health.parts) == 100
    assert health.score == round(sum(p["points"] for p in health.parts))


def test_neglect_complaints_losses_and_overdue_actions_make_an_account_at_risk():
    inputs = healthy_inputs(
        last_interaction_at=NOW - dt.timedelta(days=200), interactions_last_year=1,
        open_complaints=(Complaint("c1", "Outage", "critical", "open", NOW - dt.timedelta(days=100)),
                         Complaint("c2", "Invoice", "medium", "in_progress", NOW - dt.timedelta(days=10))),
        won_cents_this_year=200_000, won_cents_last_year=1_000_000, won_count_last_year=0,
        lost=(LostDeal("o1", dt.date(2026, 5, 1), 500_000, "CNY", "Huawei", "price"),
              LostDeal("o2", dt.date(2026, 3, 1), 300_000, "CNY", "Huawei", "price"),
              LostDeal("o3", dt.date(2026, 2, 1), 100_000, "CNY", None, "no_decision")),
        contacts=(), plans=(Plan("p1", "FY26", "active", "building", (
            {"id": "a1", "description": "Exec sponsor call", "owner_id": "u", "due_date": dt.date(2026, 4, 1),
             "status": "open"},)),))
    health = score_health(inputs, DEFAULT_WEIGHTS, NOW)
    assert health.band == "at_risk" and health.score < 40
    by = parts(health)
    assert by["interactions"]["score"] == 4 and "200 days ago" in by["interactions"]["summary"]  # (0 + 8) / 2
    assert by["interactions"]["facts"]["expected_interval_days"] == 30  # the key-account norm
    # 100 - (critical 50 + over 90 days 20) - medium 20
    assert by["complaints"]["score"] == 10 and by["complaints"]["facts"]["complaints"][0]["age_days"] == 100
    assert by["revenue_trend"]["facts"]["change_pct"] == -80.0 and by["revenue_trend"]["score"] == 16
    assert by["lost_deals"]["facts"]["by_competitor"] == {"Huawei": 2, "unknown / no decision": 1}
    assert "2 to Huawei" in by["lost_deals"]["summary"] and by["lost_deals"]["score"] == 25
    assert by["buying_centre"]["score"] == 0 and by["relationship_stage"]["score"] == 40
    assert by["plan_actions"]["facts"]["overdue"][0]["days_overdue"] == 90 and by["plan_actions"]["score"] == 0


def test_recency_ages_with_now_against_the_tier_norm():
    last = NOW - dt.timedelta(days=60)
    key = parts(score_health(healthy_inputs(last_interaction_at=last), DEFAULT_WEIGHTS, NOW))["interactions"]
    ordinary = parts(score_health(healthy_inputs(last_interaction_at=last, tier="ordinary"), DEFAULT_WEIGHTS,
                                  NOW))["interactions"]
    assert key["facts"]["recency_score"] == 50 and ordinary["facts"]["recency_score"] == 100
    later = parts(score_health(healthy_inputs(last_interaction_at=last), DEFAULT_WEIGHTS,
                               NOW + dt.timedelta(days=30)))["interactions"]
    assert later["facts"]["recency_score"] == 0


def test_weights_reweigh_stored_parts_and_bands_have_fixed_bounds():
    health = score_health(healthy_inputs(contacts=()), DEFAULT_WEIGHTS, NOW)
    only_centre = {p: 0 for p in PARTS} | {"buying_centre": 100}
    again = with_weights(health.parts, only_centre)
    assert again.score == 0 and again.band == "at_risk"
    assert [band_of(s) for s in (100, 70, 69, 40, 39, 0)] == ["healthy", "healthy", "watch", "watch", "at_risk",
                                                                "at_risk"]


@pytest.mark.parametrize("weights,field", [
    ({**DEFAULT_WEIGHTS, "interactions": 30}, "weights"),
    ({**DEFAULT_WEIGHTS, "interactions": -5, "complaints": 45}, "weights.interactions"),
    ({**DEFAULT_WEIGHTS, "mood": 0}, "weights.mood"),
    ({k: v for k, v in DEFAULT_WEIGHTS.items() if k != "lost_deals"}, "weights.lost_deals"),
    ({**DEFAULT_WEIGHTS, "interactions": 25.5}, "weights.interactions"),
])
def test_weights_must_be_whole_non_negative_and_sum_to_100(weights, field):
    with pytest.raises(ValidationProblem) as caught:
        check_weights(weights)
    assert caught.value.field == field


def test_account_team_members_have_one_role_and_the_owner_is_never_one():
    owner, member = uuid.uuid4(), uuid.uuid4()
    team, what = set_member([], member, "technical", owner_id=owner, by=owner, now=NOW)
    assert what == "added" and team[0]["role"] == "technical"
    assert set_member(team, member, "technical", owner_id=owner, by=owner, now=NOW)[1] is None
    team, what = set_member(team, member, "service", owner_id=owner, by=owner, now=NOW)
    assert what == "role_changed" and [m["role"] for m in team] == ["service"]
    with pytest.raises(ValidationProblem):
        set_member(team, owner, "sales", owner_id=owner, by=owner, now=NOW)
    with pytest.raises(ValidationProblem):
        set_member(team, member, "cook", owner_id=owner, by=owner, now=NOW)
    assert remove_member(team, member) == []
    with pytest.raises(NotFound):
        remove_member([], member)
