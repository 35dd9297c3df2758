"""Funnel-health and attainment rules, without a database."""
import datetime as dt
import uuid
from decimal import Decimal as D

import pytest

from forecast_svc.health.domain import (
    PeriodSample,
    Quota,
    StageNorm,
    attainment,
    check_basis_periods,
    derive_stage_norms,
    funnel_health,
    norm_id_for,
    previous_period_labels,
    quota_targets,
    rating,
    ratio_percent,
    seconds_until_next_day,
    snapshot_months,
    validate_norm_stages,
    worse,
)
from forecast_svc.periods.domain import parse_period
from kam_shared.errors import ValidationProblem


@pytest.mark.parametrize("ratio, expected", [
    ("100.1", "excellent"), ("250.0", "excellent"), ("100.0", "good"), ("70.0", "good"), ("85.3", "good"),
    ("69.9", "warning"), ("0.0", "warning"), (None, None),
])
def test_ratings_over_100_excellent_70_to_100_good_under_70_warning(ratio, expected):
    assert rating(D(ratio) if ratio else None) == expected


@pytest.mark.parametrize("current, norm, shown", [
    (7, "10", "70.0"), ("699.99", "1000.00", "70.0"), ("699.49", "1000.00", "69.9"), (1, "1.43", "69.9"),
    (1, "0.99", "101.0"), ("1000.50", "1000.00", "100.1"), (2, "3", "66.7"), (0, "5", "0.0"),
])
def test_ratio_is_percent_with_one_decimal_and_the_rating_follows_what_is_shown(current, norm, shown):
    ratio = ratio_percent(D(current), D(norm))
    assert str(ratio) == shown
    assert rating(ratio) == rating(D(shown))


def test_no_norm_or_a_zero_norm_has_no_ratio_and_no_rating():
    assert ratio_percent(5, None) is None and ratio_percent(5, D("0")) is None and ratio_percent(0, D("0.00")) is None


def test_worse_picks_the_worst_rating_given():
    assert worse("excellent", "warning") == "warning"
    assert worse("good", None) == "good"
    assert worse(None, None) is None


def test_the_whole_funnel_sums_only_the_stages_that_have_a_norm():
    current = [(1, 4, D("400.00")), (2, 2, D("300.00")), (3, 9, D("9000.00"))]
    norms = {1: StageNorm(1, D("4"), D("500.00")), 2: StageNorm(2, D("4"), D("500.00"))}
    stages, overall = funnel_health(current, norms)
    assert (stages[1].ratio_by_count, stages[1].ratio_by_amount) == (D("100.0"), D("80.0"))
    assert stages[3].norm_count is None and stages[3].rating_by_amount is None
    assert (overall.count, overall.amount, overall.norm_count, overall.norm_amount) == (6, D("700.00"), 8, 1000)
    assert (overall.rating_by_count, overall.rating_by_amount, overall.rating) == ("good", "good", "good")
    _, none = funnel_health(current, None)
    assert none.count == 15 and none.ratio_by_count is None and none.rating is None


def test_a_derived_norm_averages_each_periods_mean_daily_pipeline_and_skips_periods_without_snapshots():
    samples = [PeriodSample("2024-Q4", 3, {2: (3, 700000), 4: (3, 500000)}),
               PeriodSample("2024-Q3", 1, {5: (1, 200000)}),
               PeriodSample("2024-Q2", 0, {})]
    norms = derive_stage_norms(samples)
    assert norms[2] == StageNorm(2, D("0.50"), D("1166.67"))  # (7000/3 + 0) / 2, rounded once, half up
    assert norms[4] == StageNorm(4, D("0.50"), D("833.33"))
    assert norms[5] == StageNorm(5, D("0.50"), D("1000.00"))
    assert norms[1] == StageNorm(1, D("0.00"), D("0.00")) and sorted(norms) == list(range(1, 8))


def test_nothing_to_derive_from_is_a_422_naming_from_periods():
    with pytest.raises(ValidationProblem) as err:
        derive_stage_norms([PeriodSample("2023-Q4", 0, {}), PeriodSample("2023-Q3", 0, {})])
    assert err.value.field == "from_periods" and "2023-Q4, 2023-Q3" in err.value.detail


@pytest.mark.parametrize("label, start_month, expected", [
    ("2026-Q1", 1, ["2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1"]),
    ("2026-02", 1, ["2026-01", "2025-12", "2025-11"]),
    ("2026", 1, ["2025"]),
    ("FY2026-Q2", 4, ["FY2026-Q1", "FY2025-Q4", "FY2025-Q3", "FY2025-Q2"]),
    ("FY2026", 4, ["FY2025"]),
])
def test_by_default_a_norm_comes_from_the_previous_periods_of_the_same_kind(label, start_month, expected):
    assert previous_period_labels(parse_period(label, start_month)) == expected


@pytest.mark.parametrize("basis, mentions", [
    ([], "at least one"), (["2025-11"], "month(s) long"), (["2026-Q1"], "does not end before"),
    (["2025-Q4", "2025-Q4"], "twice"), ([f"{y}-Q1" for y in range(2010, 2023)], "at most"),
])
def test_basis_periods_must_be_past_periods_of_the_same_length_each_once(basis, mentions):
    with pytest.raises(ValidationProblem) as err:
        check_basis_periods(parse_period("2026-Q1"), [parse_period(b) for b in basis])
    assert err.value.field == "from_periods" and mentions in err.value.detail
    check_basis_periods(parse_period("2026-Q1"), [parse_period("2025-Q4"), parse_period("FY2025-Q1", 4)])


def test_a_hand_set_norm_names_each_stage_once():
    norms = validate_norm_stages([(3, D("2.5"), D("10")), (1, D("1"), D("0"))])
    assert list(norms) == [1, 3] and norms[3] == StageNorm(3, D("2.50"), D("10.00"))
    for bad in ([], [(2, D(1), D(1)), (2, D(2), D(2))]):
        with pytest.raises(ValidationProblem) as err:
            validate_norm_stages(bad)
        assert err.value.field == "stages"


def test_one_norm_per_node_period_dates_and_currency():
    node = uuid.uuid4()
    q = parse_period("2026-Q2")
    assert norm_id_for(node, q.start, q.end, "CNY") == norm_id_for(node, *(lambda p: (p.start, p.end))(
        parse_period("FY2026-Q1", 4)), "CNY")
    assert norm_id_for(node, q.start, q.end, "CNY") != norm_id_for(node, q.start, q.end, "USD")


def test_a_snapshot_keeps_the_close_months_a_period_of_up_to_a_year_could_pair_with_its_day():
    assert snapshot_months(dt.date(2026, 11, 23)) == (dt.date(2025, 12, 1), dt.date(2027, 11, 1))


def test_the_next_daily_snapshot_is_due_just_after_utc_midnight():
    now = dt.datetime(2026, 11, 23, 23, 59, 0, tzinfo=dt.timezone.utc)
    assert seconds_until_next_day(now) == 120


def _quota(kind, currency="CNY", amount="1000.00", approved=None, status="draft"):
    return Quota(uuid.uuid4(), kind, uuid.uuid4(), "FY2026-Q4", currency, D(amount),
                 D(approved) if approved else None, status, 1)


def test_the_target_is_the_approved_amount_once_there_is_one():
    (target,) = quota_targets([_quota("user", amount="1500.00", approved="1000.00", status="draft")]).values()
    assert target.amount == D("1000.00") and target.status == "draft"
    (target,) = quota_targets([_quota("user", amount="1500.00")]).values()
    assert target.amount == D("1500.00")


def test_team_quotas_a_person_answers_for_come_before_their_personal_one_and_currencies_stay_apart():
    targets = quota_targets([_quota("user", amount="100.00", status="approved", approved="100.00"),
                             _quota("org_unit", amount="2000.00", approved="2000.00", status="approved"),
                             _quota("org_unit", amount="500.00", status="submitted"),
                             _quota("user", currency="USD", amount="70.00")])
    assert targets["CNY"].amount == D("2500.00") and targets["CNY"].status == "submitted"
    assert {q.owner_kind for q in targets["CNY"].quotas} == {"org_unit"}
    assert targets["USD"].amount == D("70.00")


def test_attainment_gap_and_forecast():
    target = quota_targets([_quota("user", amount="1000.00", approved="1000.00", status="approved")])["CNY"]
    a = attainment(target, D("1200.00"), {"closed": D("1100.00"), "commit": D("300.00"), "best_case": D("50.00"),
                                          "pipeline": D("999.00")})
    assert (a.quota, a.gap, a.attainment_pct) == (D("1000.00"), D("-200.00"), D("120.0"))
    assert (a.forecast_commit, a.forecast_best_case, a.forecast_attainment_pct) == (D("1400.00"), D("1450.00"),
                                                                                    D("140.0"))
    none = attainment(None, D("5.00"), {})
    assert none.quota is None and none.gap is None and none.attainment_pct is None and none.forecast_commit == 0
