import datetime as dt
import random
from decimal import Decimal

import pytest

from forecast_svc.periods.domain import parse_period
from forecast_svc.rollups.domain.rollup import Group, rollup_from_groups
from kam_shared.errors import ValidationProblem


@pytest.mark.parametrize("text, label, start, end", [
    ("2026-11", "2026-11", dt.date(2026, 11, 1), dt.date(2026, 12, 1)),
    ("2026-12", "2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
    ("2026-Q4", "2026-Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
    ("2026-q1", "2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 4, 1)),
    ("2026", "2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
])
def test_periods(text, label, start, end):
    p = parse_period(text)
    assert (p.label, p.start, p.end) == (label, start, end)
    assert p.contains(start) and not p.contains(end)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "26", "2026/11", "", "Q4-2026"])
def test_bad_periods_name_the_field(text):
    with pytest.raises(ValidationProblem) as err:
        parse_period(text)
    assert err.value.field == "period"


def test_rollup_arithmetic_is_exact():
    groups = [Group("open", 5, 1, 10_000_000, 10_000_000 * 50),   # 100,000.00 at 50%
              Group("open", 2, 3, 100, 100 * 20),                 # 3 × ... 1.00 at 20%
              Group("open", 3, 1, 1, 1 * 30),                    # 0.01 at 30% → 0.003
              Group("won", 8, 2, 5_000_000, 5_000_000 * 100),
              Group("lost", 8, 1, 7_700, 0)]
    r = rollup_from_groups(groups)
    assert r.stages[4].count == 1 and r.stages[4].weighted_amount == Decimal("50000.00")
    assert r.open_count == 5 and r.open_amount == Decimal("100001.01")
    assert r.weighted_amount == Decimal("50000.20")  # 50000 + 0.20 + 0.003, rounded once
    assert (r.won_count, r.won_amount, r.lost_count, r.lost_amount) == (2, Decimal("50000.00"), 1, Decimal("77.00"))
    assert [s.stage for s in r.stages] == list(range(1, 8))


@pytest.mark.parametrize("text, start_month, label, start, end", [
    ("FY2026", 1, "FY2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1)),
    ("FY2026", 4, "FY2026", dt.date(2026, 4, 1), dt.date(2027, 4, 1)),
    ("fy2026-q1", 4, "FY2026-Q1", dt.date(2026, 4, 1), dt.date(2026, 7, 1)),
    ("FY2026-Q4", 4, "FY2026-Q4", dt.date(2027, 1, 1), dt.date(2027, 4, 1)),
    ("FY2026-Q2", 11, "FY2026-Q2", dt.date(2027, 2, 1), dt.date(2027, 5, 1)),
])
def test_fiscal_periods(text, start_month, label, start, end):
    p = parse_period(text, start_month)
    assert (p.label, p.start, p.end) == (label, start, end)
    assert len(p.months) == (12 if p.kind == "fiscal_year" else 3)


def test_categories_won_is_closed_lost_is_omitted_whatever_the_override():
    from forecast_svc.categories.domain import effective_category

    mapping = {1: "pipeline", 6: "commit"}
    assert effective_category("open", 6, None, mapping) == "commit"
    assert effective_category("open", 1, "best_case", mapping) == "best_case"
    assert effective_category("won", 8, "omitted", mapping) == "closed"
    assert effective_category("lost", 8, "commit", mapping) == "omitted"


def test_a_rebuild_maps_a_snapshot_item_exactly_as_the_live_path_maps_the_event_state():
    """One mapping (rollups/domain/rows.py) for both: the open stage is weighted by the replicated
    stage model on both paths, not by the probability the snapshot item happens to carry."""
    import datetime as dt
    import uuid
    from decimal import Decimal

    from forecast_svc.rebuild import domain as rebuild
    from forecast_svc.rollups.domain.rows import fact_row
    from kam_shared.events.opportunity import OpportunityState

    state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="n", amount=Decimal("100.00"),
                             currency="CNY", close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4(), stage=3,
                             probability=30, status="open", version=4, updated_at=dt.datetime.now(dt.UTC))
    item = {**state.model_dump(mode="json"), "stage_name": "方案", "confirmed_by": None}  # a list answer's shape
    model = rebuild.stage_probabilities([{"number": 3, "probability": 35}, {"number": 8, "probability": 100}])
    live, rebuilt = fact_row(state, model), fact_row(rebuild.opportunity_state(item), model)
    assert rebuilt == live and live["probability"] == 35


def test_stage_weighted_amounts_add_up_to_the_total_weighted_amount_to_the_cent():
    """Rounded once, at the read, by largest remainder: for random cells the stages' weighted
    amounts always sum to the total (per-stage rounding put 24.68 beside a total of 24.69)."""
    rng = random.Random(7)
    off_before = 0
    for _ in range(500):
        groups = [Group(status="open", stage=rng.randint(1, 7), count=1, amount_cents=c,
                        weighted_cents_x100=c * rng.choice([10, 15, 25, 33, 50, 67, 85, 90]))
                  for c in (rng.randint(1, 99_999) for _ in range(rng.randint(1, 12)))]
        rollup = rollup_from_groups(groups)
        assert sum(s.weighted_amount for s in rollup.stages) == rollup.weighted_amount
        exact = sum(g.weighted_cents_x100 for g in groups)
        assert abs(rollup.weighted_amount * 10000 - exact) <= 50  # the total is the exact figure, rounded
        for s in rollup.stages:  # each stage is within a cent of its own exact figure
            stage_exact = sum(g.weighted_cents_x100 for g in groups if g.stage == s.stage)
            assert abs(s.weighted_amount * 10000 - stage_exact) < 100
        off_before += sum((Decimal(sum(g.weighted_cents_x100 for g in groups if g.stage == st)) / 10000)
                          .quantize(Decimal("0.01")) for st in range(1, 8)) != rollup.weighted_amount
    assert off_before > 0  # the random cells do include cases where rounding per stage is a cent off
