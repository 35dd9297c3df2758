"""The predicted-outcome method, without a database: known input → known expected amount and range."""
import datetime as dt
import math
import uuid
from decimal import Decimal as D

from forecast_svc.predictions.domain import (
    MIN_SAMPLE,
    OpenGroup,
    StageHistory,
    ape_pct,
    apply_step,
    choose_conversion,
    days_to_close,
    mape_pct,
    merged,
    new_journey,
    open_groups_at,
    owner_samples,
    predict,
    reached,
    stage_at,
    timing_factor,
    won_by,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
OWNER = uuid.uuid4()


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def journey(steps, status="open", amount=100_00, close=dt.date(2026, 3, 1), owner=OWNER, currency="CNY"):
    """A journey from stage-history steps (kind, from, to, day), with the state after the last step."""
    last_day = steps[-1][3]
    stage = 8 if status != "open" else steps[-1][2]
    row = new_journey({"id": uuid.uuid4(), "owner_id": owner, "currency": currency, "amount_cents": amount,
                       "close_date": close, "status": "open", "stage": 1, "version": 1, "updated_at": day(0),
                       "created_at": day(steps[0][3]), "stage_entered_at": day(steps[0][3])})
    for kind, frm, to, n in steps:
        row = apply_step(row, kind, frm, to, day(n))
    return {**row, "status": status, "stage": stage, "stage_entered_at": day(last_day)}


def history(closed: int, won: int, durations: list[int]) -> StageHistory:
    return StageHistory(closed, won, sorted(durations))


def conversions_with(stage: int, h: StageHistory, node="R"):
    others = {s: history(0, 0, []) for s in range(1, 8)}
    return {s: choose_conversion(s, [(node, {**others, stage: h})], others, {t: 10 * t for t in range(1, 8)})
            for s in range(1, 8)}


def test_a_journey_keeps_first_entries_the_highest_stage_and_the_close():
    row = journey([("created", None, 1, 0), ("advanced", 1, 3, 5), ("moved_back", 3, 2, 9), ("advanced", 2, 3, 12),
                   ("lost", 3, 8, 20)], status="lost")
    assert (row["entered_1"], row["entered_2"], row["entered_3"], row["entered_4"]) == (day(0), day(9), day(5), None)
    assert row["max_stage"] == 3 and row["closed_at"] == day(20)
    assert reached(row, 3) and not reached(row, 4)
    won = journey([("created", None, 1, 0), ("skipped_forward", 1, 4, 2), ("won", 4, 8, 12)], status="won")
    assert all(reached(won, s) for s in range(1, 8))
    # Days to close from a stage it skipped count from the first stage above it that it entered.
    assert [days_to_close(won, s) for s in (1, 2, 4, 6)] == [12, 10, 10, 0]
    reopened = apply_step(row, "reopened", 8, 2, day(25))
    assert reopened["closed_at"] is None and reopened["entered_2"] == day(9)


def test_samples_count_what_reached_each_stage_and_respect_the_cutoff():
    rows = [journey([("created", None, 1, 0), ("advanced", 1, 3, 5), ("won", 3, 8, 15)], status="won"),
            journey([("created", None, 1, 0), ("advanced", 1, 2, 3), ("lost", 2, 8, 8)], status="lost"),
            journey([("created", None, 1, 0), ("advanced", 1, 5, 1), ("won", 5, 8, 40)], status="won"),
            journey([("created", None, 1, 0)])]  # open: not in the history
    h = merged(owner_samples(rows), [OWNER])
    assert (h[1].closed, h[1].won, h[1].durations) == (3, 2, [15, 40])
    assert (h[3].closed, h[3].won, h[3].durations) == (2, 2, [10, 39])
    assert (h[2].closed, h[2].won) == (3, 2)
    early = merged(owner_samples(rows, cutoff=day(20)), [OWNER])
    assert (early[1].closed, early[1].won) == (2, 1)
    assert merged(owner_samples(rows), [uuid.uuid4()])[1].closed == 0


def test_the_conversion_falls_back_up_the_chain_to_the_org_then_the_stage_model():
    small, big = history(MIN_SAMPLE - 1, 5, []), history(MIN_SAMPLE, 15, [3])
    empty = {s: history(0, 0, []) for s in range(1, 8)}
    model = {s: 10 * s for s in range(1, 8)}
    levels = [("rep", {**empty, 2: small}), ("manager", {**empty, 2: big}), ("director", {**empty, 2: big})]
    c = choose_conversion(2, levels, {**empty, 2: history(100, 10, [])}, model)
    assert (c.source, c.source_node, c.sample_size, c.won_in_sample, c.probability) == ("node", "manager", 20, 15,
                                                                                         D("0.75"))
    c = choose_conversion(2, levels[:1], {**empty, 2: history(100, 10, [])}, model)
    assert (c.source, c.source_node, c.sample_size, c.probability) == ("org", None, 100, D("0.1"))
    c = choose_conversion(4, levels, empty, model)
    assert (c.source, c.sample_size, c.probability) == ("stage_model", 0, D("0.4"))


def test_the_timing_factor_is_the_share_of_the_won_still_open_at_that_age_that_closed_in_time():
    durations = [5, 10, 20, 40]
    assert timing_factor(durations, 6, 10) == D(1) / 3  # of 10, 20, 40 only 10 within 16 days
    assert timing_factor(durations, 0, 100) == 1
    assert timing_factor(durations, 0, 4) == 0  # none of the history closes that fast: fully discounted
    assert timing_factor(durations, 50, 1) == 1  # older than all history: no evidence against it
    assert timing_factor([], 3, 0) == 1


def test_expected_amount_and_the_90_percent_range_from_known_input():
    h = history(20, 10, [10] * 10)  # conversion 0.5; every win took 10 days from the stage
    groups = [OpenGroup(stage=3, age_days=0, count=10, amount_cents=1_000_000, amount_sq_cents=10 * 100_000 ** 2)]
    p = predict(groups, won_cents=0, conversions=conversions_with(3, h), horizon_days=30)
    # expected = 1,000,000 × 0.5 × 1; σ² = Σa² q(1−q) + (Σ a f)² p(1−p)/n = 1e11 × .25 + 1e12 × .25 / 20
    sigma = math.sqrt(10 * 100_000 ** 2 * 0.25 + 1_000_000 ** 2 * 0.25 / 20)
    assert p.expected_cents == 500_000
    assert abs(p.low_cents - (500_000 - 1.645 * sigma)) <= 1 and abs(p.high_cents - (500_000 + 1.645 * sigma)) <= 1
    stage = p.stages[2]
    assert (stage.count, stage.open_cents, stage.expected_cents, stage.timing_factor) == (10, 1_000_000, 500_000, 1)
    assert stage.conversion.source == "node" and stage.conversion.history.median_days == 10
    # With 5 days left, no opportunity that young closes in time: discounted to nothing; only won counts.
    late = predict(groups, won_cents=20_000, conversions=conversions_with(3, h), horizon_days=5)
    assert (late.expected_cents, late.low_cents, late.high_cents) == (20_000, 20_000, 20_000)


def test_the_range_is_clamped_to_won_and_won_plus_open():
    h = history(20, 10, [])
    groups = [OpenGroup(stage=5, age_days=3, count=1, amount_cents=100_000, amount_sq_cents=100_000 ** 2)]
    p = predict(groups, won_cents=7_000, conversions=conversions_with(5, h), horizon_days=30)
    assert (p.expected_cents, p.low_cents, p.high_cents) == (57_000, 7_000, 107_000)


def test_the_backtest_sees_the_pipeline_as_it_stood_at_the_time():
    start, end = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    won_later = journey([("created", None, 1, 0), ("advanced", 1, 4, 10), ("won", 4, 8, 50)], status="won",
                        amount=300_00, close=dt.date(2026, 2, 10))
    lost_early = journey([("created", None, 1, 0), ("lost", 1, 8, 20)], status="lost", close=dt.date(2026, 2, 5))
    later = journey([("created", None, 1, 40)], close=dt.date(2026, 2, 20))
    rows = [won_later, lost_early, later]
    assert [stage_at(won_later, day(n)) for n in (5, 30, 50)] == [1, 4, None]
    assert stage_at(lost_early, day(25)) is None and stage_at(later, day(30)) is None
    assert open_groups_at(rows, day(30), start, end, "CNY") == [OpenGroup(4, 20, 1, 300_00, 300_00 ** 2)]
    assert won_by(rows, day(30), start, end, "CNY") == 0 and won_by(rows, None, start, end, "CNY") == 300_00
    assert open_groups_at(rows, day(30), start, end, "USD") == []


def test_ape_and_mape():
    assert ape_pct(700, 1000) == D("30.0") and ape_pct(1300, 1000) == D("30.0")
    assert ape_pct(5, 0) is None and ape_pct(None, 10) is None
    assert mape_pct([D("30.0"), None, D("50.0")]) == D("40.0") and mape_pct([None]) is None
