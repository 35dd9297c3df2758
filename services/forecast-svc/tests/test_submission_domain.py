"""Forecast submission rules, without a database."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from forecast_svc.submission import domain
from forecast_svc.submission.domain import ChannelForecast, Child, ForecastState, Line, Principles
from kam_shared.errors import Conflict, ValidationProblem

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.timezone.utc)


def line(cents, category, status="open"):
    return Line(uuid.uuid4(), uuid.uuid4(), cents, category, 6, status, dt.date(2026, 11, 2))


def child(**figures):
    return Child(uuid.uuid4(), uuid.uuid4(), 2, T0, domain.add(figures), 0, 0)


def state_with(lines=(), children=(), principles=Principles()):
    return domain.prefill(principles, list(lines), list(children), [], None)


# ------------------------------------------------------------------ principles
def test_default_principles_count_commit_and_closed_with_best_case_as_upside():
    p = Principles()
    figures = domain.add({"pipeline": 1, "best_case": 20, "commit": 300, "closed": 4000, "omitted": 50000})
    assert p.forecast_cents(figures) == 4300 and p.upside_cents(figures) == 20


def test_principles_are_kept_in_canonical_order():
    p = domain.validate_principles(["closed", "best_case", "commit"], ["pipeline"])
    assert p.counted == ("best_case", "commit", "closed") and p.upside == ("pipeline",)


@pytest.mark.parametrize("counted, upside, field", [
    (["commit", "omitted"], [], "counted_categories"),       # omitted never counts
    (["commit"], ["weird"], "upside_categories"),
    (["commit", "commit"], [], "counted_categories"),
    ([], ["best_case"], "counted_categories"),
    (["commit", "best_case"], ["best_case"], "upside_categories"),  # both counted and upside
])
def test_bad_principles_name_the_field(counted, upside, field):
    with pytest.raises(ValidationProblem) as err:
        domain.validate_principles(counted, upside)
    assert err.value.field == field


def test_due_dates_only_mark_late_submissions():
    assert not domain.is_late(None, T0)
    assert not domain.is_late(dt.date(2026, 10, 1), T0)
    assert domain.is_late(dt.date(2026, 9, 30), T0)


# ------------------------------------------------------------------ figures
def test_a_managers_figures_are_own_lines_plus_childrens_submissions_plus_adjustments():
    s = state_with([line(100_00, "commit"), line(40_00, "best_case"), line(7_00, "closed", "won")],
                   [child(commit=1000_00, best_case=5_00), child(pipeline=3_00)])
    assert s.own == domain.add({"commit": 100_00, "best_case": 40_00, "closed": 7_00})
    assert s.figures == domain.add({"commit": 1100_00, "best_case": 45_00, "closed": 7_00, "pipeline": 3_00})
    assert s.forecast_cents == 1107_00 and s.upside_cents == 45_00
    adjusted, change = domain.adjust(s, s.principles, "commit", delta_cents=-100_00)
    assert adjusted.figures["commit"] == 1000_00 and adjusted.base["commit"] == 1100_00
    assert (change.before_cents, change.after_cents, change.delta_cents) == (1100_00, 1000_00, -100_00)
    assert s.figures["commit"] == 1100_00  # states are values: the old one is untouched


def test_an_adjustment_to_a_new_amount_records_the_delta():
    s = state_with([line(100_00, "commit")])
    adjusted, change = domain.adjust(s, s.principles, "commit", new_amount_cents=250_00)
    assert change.delta_cents == 150_00 and adjusted.adjustments["commit"] == 150_00
    again, _ = domain.adjust(adjusted, s.principles, "commit", delta_cents=-50_00)
    assert again.adjustments["commit"] == 100_00 and again.figures["commit"] == 200_00


@pytest.mark.parametrize("category, kwargs, field", [
    ("closed", {"delta_cents": 1}, "category"),      # won business is a fact
    ("omitted", {"delta_cents": 1}, "category"),
    ("commit", {}, "amount_delta"),                   # neither
    ("commit", {"delta_cents": 1, "new_amount_cents": 2}, "amount_delta"),  # both
    ("commit", {"delta_cents": -100_01}, "amount_delta"),  # below zero
    ("commit", {"new_amount_cents": 100_00}, "amount"),    # changes nothing
    ("commit", {"delta_cents": 0}, "amount_delta"),
])
def test_bad_adjustments_name_the_field(category, kwargs, field):
    s = state_with([line(100_00, "commit")])
    with pytest.raises(ValidationProblem) as err:
        domain.adjust(s, s.principles, category, **kwargs)
    assert err.value.field == field


def test_a_refresh_keeps_adjustments_and_channels_but_never_goes_below_zero():
    s = state_with([line(100_00, "commit"), line(50_00, "best_case")])
    s, _ = domain.adjust(s, s.principles, "commit", delta_cents=20_00)
    s, _ = domain.adjust(s, s.principles, "best_case", delta_cents=-40_00)
    s = domain.record_channel(s, s.principles, ChannelForecast("Distributors", 9_00, None, uuid.uuid4(), T0))
    fresh = state_with([line(300_00, "commit"), line(10_00, "best_case")])
    refreshed, trimmed = domain.refresh(s, fresh)
    assert refreshed.figures["commit"] == 320_00  # new base, same +20
    assert refreshed.figures["best_case"] == 0 and trimmed == {"best_case": 30_00}  # -40 cut to -10
    assert refreshed.channels == s.channels and refreshed.lines == fresh.lines


def test_a_channel_recorded_again_replaces_its_figure():
    who = uuid.uuid4()
    s = state_with()
    s = domain.record_channel(s, s.principles, ChannelForecast("  Distributors ", 100, None, who, T0))
    s = domain.record_channel(s, s.principles, ChannelForecast("Retail", 5, "x", who, T0))
    s = domain.record_channel(s, s.principles, ChannelForecast("distributors", 300, None, who, T0))
    assert [(c.channel, c.amount_cents) for c in s.channels] == [("Retail", 5), ("distributors", 300)]
    assert s.forecast_cents == 0  # beside the forecast, never in it
    with pytest.raises(ValidationProblem):
        domain.record_channel(s, s.principles, ChannelForecast("   ", 1, None, who, T0))


def test_state_survives_its_json_column():
    s = domain.prefill(Principles(("commit",), ()), [line(100_00, "commit")], [child(commit=5_00)], [uuid.uuid4()],
                       domain.add({"commit": 9}))
    s = domain.record_channel(s, s.principles, ChannelForecast("Retail", 5, "n", uuid.uuid4(), T0))
    s, _ = domain.adjust(s, s.principles, "pipeline", delta_cents=3)
    assert ForecastState.from_json(s.to_json()) == s


# ------------------------------------------------------------------ locks and who may act
def test_locks_and_chain_rules_are_conflicts():
    rid, other = uuid.uuid4(), uuid.uuid4()
    domain.ensure_open("submitted", None, rid, "2026-Q4", "CNY")
    with pytest.raises(Conflict):
        domain.ensure_open("published", rid, rid, "2026-Q4", "CNY")
    with pytest.raises(Conflict) as err:
        domain.ensure_open("draft", other, rid, "2026-Q4", "CNY")
    assert err.value.extra["published_record_id"] == str(other)
    with pytest.raises(Conflict) as err:
        domain.ensure_can_submit(None)
    assert "publish" in err.value.detail
    domain.ensure_can_submit(uuid.uuid4())
    domain.ensure_top_of_chain(None, "publish")
    with pytest.raises(Conflict):
        domain.ensure_top_of_chain(uuid.uuid4(), "publish")


# ------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("forecast, actual, pct", [
    (100, 100, "100.00"), (0, 0, "100.00"), (0, 50, "0.00"), (50, 0, "0.00"),
    (80, 100, "80.00"), (100, 80, "80.00"), (100_000_00, 125_000_00, "80.00"), (2, 3, "66.67"),
])
def test_accuracy_is_symmetric_and_bounded(forecast, actual, pct):
    assert domain.accuracy_pct(forecast, actual) == Decimal(pct)


def test_subtree_totals_sum_everyone_below_once_even_with_a_cycle():
    head, mgr, rep, rep2 = (uuid.uuid4() for _ in range(4))
    superior_of = {head: None, mgr: head, rep: mgr, rep2: mgr}
    totals = domain.subtree_totals(superior_of, {rep: 10, rep2: 5, mgr: 1, head: 100})
    assert totals == {head: 116, mgr: 16, rep: 10, rep2: 5}
    a, b = uuid.uuid4(), uuid.uuid4()
    assert domain.subtree_totals({a: b, b: a}, {a: 1, b: 2}) == {a: 3, b: 3}
