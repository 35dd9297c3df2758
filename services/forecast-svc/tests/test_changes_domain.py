"""The waterfall's classification and arithmetic, the forecast history's time line, the history
replay of a rebuild and the stage snapshots computed from the history (pure, no database)."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from forecast_svc.changes.domain import (
    KINDS,
    Change,
    Scope,
    State,
    check_since,
    classify,
    groups_before,
    kind_of,
    parse_since,
    to_groups,
    waterfall,
)
from forecast_svc.health.domain import snapshots_from_history
from forecast_svc.history.domain import points, series
from forecast_svc.rebuild.domain import replay_history
from forecast_svc.rollups.domain.rollup import rollup_from_groups
from kam_shared.domain_errors import ValidationProblem

OWNER, OTHER = uuid.uuid4(), uuid.uuid4()
Q4 = Scope("CNY", dt.date(2026, 10, 1), dt.date(2027, 1, 1))
MAPPING = {1: "pipeline", 2: "pipeline", 3: "pipeline", 4: "best_case", 5: "best_case", 6: "commit", 7: "commit"}
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


def state(stage=3, amount=1000_00, close=dt.date(2026, 11, 15), status="open", owner=OWNER, currency="CNY",
          probability=None, override=None):
    return State(owner_id=owner, stage=stage, probability=probability if probability is not None else stage * 10,
                 amount_cents=amount, currency=currency, close_date=close, status=status, category_override=override)


def change(before, after, before_in=True, after_in=True):
    return Change(uuid.uuid4(), before, before_in, after, after_in)


@pytest.mark.parametrize("before, after, in_tree, kind", [
    (None, state(), (False, True), "created"),
    (state(close=dt.date(2027, 2, 1)), state(), (True, True), "pulled_in"),
    (state(owner=OTHER), state(), (False, True), "transferred_in"),
    (state(currency="USD"), state(), (True, True), "transferred_in"),
    (state(stage=3), state(stage=5), (True, True), "moved_forward"),
    (state(stage=5), state(stage=2), (True, True), "moved_back"),
    (state(amount=100), state(amount=200), (True, True), "amount_changed"),
    (state(stage=6), state(stage=8, status="won", probability=100), (True, True), "won"),
    (state(stage=6), state(stage=8, status="lost", probability=0), (True, True), "lost"),
    (state(stage=8, status="lost", probability=0), state(stage=6), (True, True), "reopened"),
    (state(), state(close=dt.date(2027, 1, 1)), (True, True), "slipped"),
    (state(), state(close=dt.date(2026, 9, 30)), (True, True), "pulled_out"),
    (state(), state(owner=OTHER), (True, False), "transferred_out"),
    (state(), state(close=dt.date(2026, 12, 31)), (True, True), "other"),
    (state(), state(override="commit"), (True, True), "other"),
    (state(), state(), (True, True), None),  # nothing roll-up-relevant changed
    (state(close=dt.date(2027, 2, 1)), state(close=dt.date(2027, 3, 1)), (True, True), None),  # never in Q4
    (state(), state(), (False, False), None),  # never in the subtree
])
def test_each_change_has_one_kind(before, after, in_tree, kind):
    assert kind_of(change(before, after, *in_tree), Q4) == kind


def test_a_slipped_deal_leaves_the_period_and_a_win_moves_open_to_won():
    won, slipped = classify([change(state(stage=6, amount=300_00), state(stage=8, status="won", probability=100,
                                                                         amount=300_00)),
                             change(state(stage=6, amount=200_00), state(stage=6, amount=200_00,
                                                                         close=dt.date(2027, 1, 2)))], Q4, MAPPING)
    assert (won.kind, won.effect.open_cents, won.effect.won_cents, won.effect.commit_cents) == ("won", -300_00,
                                                                                                 300_00, -300_00)
    assert won.effect.weighted_x100 == -300_00 * 60
    assert (slipped.kind, slipped.effect.open_cents, slipped.effect.commit_cents) == ("slipped", -200_00, -200_00)
    assert slipped.changed_fields == ["close_date"]


def test_the_waterfall_adds_up_to_both_ends_to_the_cent():
    """Odd cents × probabilities: each step rounded on its own would drift; cumulative rounding cannot."""
    now_cells = {}
    changes = []
    for i in range(40):
        before = state(stage=1 + i % 6, amount=1_01 + 7 * i)
        after = state(stage=2 + i % 6, amount=1_01 + 7 * i + i % 3)
        changes.append(change(before, after))
        key = ("open", after.stage, "")
        cell = now_cells.setdefault(key, [0, 0, 0])
        cell[0] += 1
        cell[1] += after.amount_cents
        cell[2] += after.amount_cents * after.probability
    classified = classify(changes, Q4, MAPPING)
    start, end = groups_before(now_cells, changes, Q4), to_groups(now_cells)
    steps = waterfall(start, classified, MAPPING)
    assert [s["kind"] for s in steps] == list(KINDS)
    first, last = rollup_from_groups(start, MAPPING), rollup_from_groups(end, MAPPING)
    assert first.weighted_amount + sum(s["weighted_amount"] for s in steps) == last.weighted_amount
    assert first.open_amount + sum(s["open_amount"] for s in steps) == last.open_amount
    assert first.open_count == 40 and sum(s["count"] for s in steps) == 40


def test_since_is_parsed_and_bounded():
    assert parse_since("2026-11-01", NOW) == dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    assert parse_since("2026-11-01T08:00:00+08:00", NOW) == dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ValidationProblem) as bad:
        parse_since("last week", NOW)
    assert bad.value.field == "since"
    limit = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    check_since(limit, NOW, limit)
    with pytest.raises(ValidationProblem, match="before the retained history") as early:
        check_since(limit - dt.timedelta(seconds=1), NOW, limit)
    assert early.value.extra["limit"] == limit.isoformat()
    with pytest.raises(ValidationProblem, match="in the future"):
        check_since(NOW + dt.timedelta(seconds=1), NOW, limit)


def test_points_run_from_the_period_start_or_the_history_to_now():
    limit = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.timezone.utc)
    daily = points(dt.date(2026, 10, 1), dt.date(2027, 1, 1), limit, NOW, "day")
    assert daily[0].day == dt.date(2026, 11, 10) and daily[-1].day == NOW.date() and daily[-1].at == NOW
    assert daily[0].at == dt.datetime(2026, 11, 11, tzinfo=dt.timezone.utc) and len(daily) == 11
    weekly = points(dt.date(2026, 10, 1), dt.date(2027, 1, 1), limit, NOW, "week")
    assert [p.day for p in weekly] == [dt.date(2026, 11, 15), NOW.date()]
    early = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    past = points(dt.date(2026, 7, 1), dt.date(2026, 10, 1), early, NOW, "week")
    assert past[-1].day == dt.date(2026, 9, 30) and past[0].day == dt.date(2026, 7, 5)
    assert [p.day for p in points(dt.date(2026, 10, 1), dt.date(2027, 1, 1), None, NOW, "day")] == [NOW.date()]


def test_series_subtracts_the_later_days_deltas():
    at = points(dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.datetime(2026, 11, 18, tzinfo=dt.timezone.utc),
                NOW, "day")
    now = {("open", 3, ""): [2, 300_00, 300_00 * 30]}
    deltas = [(dt.date(2026, 11, 19), ("open", 3, ""), [1, 100_00, 100_00 * 30]),
              (dt.date(2026, 11, 20), ("open", 3, ""), [0, 50_00, 50_00 * 30])]
    figures = [(p.day.day, r.open_count, r.open_amount) for p, r in series(now, deltas, at, MAPPING)]
    assert figures == [(18, 1, Decimal("150.00")), (19, 2, Decimal("250.00")), (20, 2, Decimal("300.00"))]


def _event(opp, version, time, **changes):
    base = {"id": str(opp), "account_id": str(uuid.uuid4()), "name": "d", "amount": "100.00", "currency": "CNY",
            "close_date": "2026-11-15", "owner_id": str(OWNER), "stage": 1, "probability": 10, "status": "open",
            "version": version, "updated_at": time.isoformat()}
    return (time, "kam.opportunity.stage_changed.v1", {"opportunity": {**base, **changes}})


def test_replay_chains_each_state_to_the_one_before_and_finds_the_horizon():
    a, b = uuid.uuid4(), uuid.uuid4()
    t = [NOW + dt.timedelta(minutes=i) for i in range(6)]
    events = [_event(a, 2, t[1], stage=2, probability=20), _event(a, 1, t[0]), _event(a, 2, t[2], stage=2),
              (t[3], "kam.opportunity.stage_model_changed.v1",
               {"version": 2, "stages": [{"number": 2, "probability": 25}]}),
              _event(b, 4, t[4], stage=3, probability=30)]
    rows, horizon = replay_history(events)
    assert [(r["opportunity_id"], r["version"], r["probability"], r["prev_probability"]) for r in rows] == [
        (a, 1, 10, None), (a, 2, 20, 10), (a, 2, 25, 20), (b, 4, 30, None)]
    assert horizon == t[4]  # b's first three versions are gone from the stream


def test_snapshots_from_history_run_backwards_from_today():
    close = dt.date(2026, 11, 15)
    month = dt.date(2026, 11, 1)
    now = {(OWNER, month, "CNY", 3): [1, 500]}
    stage3, stage2 = (OWNER, close, "CNY", 3, "open", 500), (OWNER, close, "CNY", 2, "open", 400)
    changes = [(NOW - dt.timedelta(hours=1), stage3, stage2), (NOW - dt.timedelta(days=1), stage2, None)]
    yesterday = NOW.date() - dt.timedelta(days=1)
    days = [(NOW.date(), NOW), (yesterday, dt.datetime.combine(yesterday, dt.time(), tzinfo=dt.timezone.utc))]
    out = snapshots_from_history(now, changes, days)
    assert out[NOW.date()] == [(OWNER, month, "CNY", 3, 1, 500)]
    assert out[yesterday] == []  # created after yesterday's midnight
