"""The opportunity aggregate and its rules, without a database."""
import datetime as dt
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest

from kam_shared.errors import Conflict, Forbidden, ValidationProblem
from kam_shared.events.opportunity import EvaluationWeights, TenderLot, TenderState
from opportunity_svc.opportunities.domain.assessment import QUESTION_KEYS, score
from opportunity_svc.opportunities.domain.opportunity import Opportunity
from opportunity_svc.products.domain import Product
from opportunity_svc.stage_model.domain import DEFAULT_STAGES, Stage, StageModel, probability_of

MODEL = StageModel()
OWNER, BOSS = uuid.uuid4(), uuid.uuid4()
NOW = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.timezone.utc)


def new(amount="100000", currency="CNY") -> Opportunity:
    return Opportunity.open(account_id=uuid.uuid4(), name="Core banking", amount=Decimal(amount), currency=currency,
                            close_date=dt.date(2026, 12, 1), owner_id=OWNER, now=NOW, model=MODEL, by=OWNER)


def test_default_probabilities():
    assert [s.probability for s in DEFAULT_STAGES] == [10, 20, 30, 40, 50, 70, 90, 100]


def test_new_opportunity_starts_at_stage_one_and_records_created():
    opp = new()
    assert (opp.stage, opp.probability, opp.status, opp.version) == (1, 10, "open", 1)
    assert [e.type for e in opp.events] == ["kam.opportunity.created.v1"]
    assert [(e.kind, e.from_stage, e.to_stage) for e in opp.stage_log] == [("created", None, 1)]


def test_moves_forward_skip_and_back_are_recorded_with_from_and_to():
    opp = new()
    opp.move_to(2, MODEL, OWNER, now=NOW)
    opp.move_to(5, MODEL, OWNER, now=NOW)
    opp.move_to(3, MODEL, OWNER, now=NOW)
    changes = [(e.data.from_stage, e.data.to_stage, e.data.skipped, e.sequence) for e in opp.events[1:]]
    assert changes == [(1, 2, False, 2), (2, 5, True, 3), (5, 3, False, 4)]
    assert [e.kind for e in opp.stage_log[1:]] == ["advanced", "skipped_forward", "moved_back"]
    assert opp.probability == probability_of(3) == 30
    assert all(e.data.days_in_from_stage is not None and e.data.days_in_from_stage >= 0 for e in opp.events[1:])
    assert opp.events[-1].data.opportunity.stage == 3  # the event carries the state after the change


def test_moving_to_the_current_stage_changes_nothing():
    opp = new()
    assert opp.move_to(1, MODEL, OWNER, now=NOW) is False
    assert opp.version == 1 and len(opp.events) == 1


@pytest.mark.parametrize("stage", [0, 8, 9, -1])
def test_only_open_stages_are_reachable_by_a_move(stage):
    with pytest.raises(ValidationProblem) as err:
        new().move_to(stage, MODEL, OWNER, now=NOW)
    assert err.value.field == "stage"


def test_probabilities_come_from_the_stage_model_in_force():
    custom = StageModel(tuple(Stage(s.number, s.name, s.description, p) for s, p in
                              zip(DEFAULT_STAGES, [5, 15, 25, 45, 60, 80, 95, 100], strict=True)), version=2)
    opp = new()
    opp.move_to(4, custom, OWNER, now=NOW)
    assert opp.probability == 45


def test_closing_won_and_lost():
    won = new()
    won.close("won", "best TCO", None, OWNER, now=NOW)
    assert (won.stage, won.probability, won.status) == (8, 100, "won")
    lost = new()
    lost.move_to(4, MODEL, OWNER, now=NOW)
    lost.close("lost", "price", "Rival Corp", OWNER, now=NOW)
    event = lost.events[-1]
    assert (lost.probability, lost.status, event.data.from_stage, event.data.competitor) == (0, "lost", 4, "Rival Corp")
    assert lost.stage_log[-1].kind == "lost" and lost.stage_log[-1].reason == "price"


def test_closed_opportunities_do_not_change_until_reopened():
    opp = new()
    opp.close("won", "signed", None, OWNER, now=NOW)
    for change in (lambda: opp.move_to(3, MODEL, OWNER, now=NOW),
                   lambda: opp.close("lost", "oops", None, OWNER, now=NOW),
                   lambda: opp.update({"name": "x"}, OWNER, now=NOW), lambda: opp.set_confirmed(True, OWNER, now=NOW),
                   lambda: opp.set_team_member(uuid.uuid4(), "presales", OWNER, now=NOW),
                   lambda: opp.set_tender(TenderState(sales_mode="bid"), OWNER, now=NOW)):
        with pytest.raises(Conflict):
            change()
    version = opp.version
    opp.reopen("customer came back", 6, MODEL, OWNER, now=NOW)
    assert (opp.status, opp.stage, opp.probability, opp.version) == ("open", 6, 70, version + 1)
    assert opp.close_reason is None
    event = opp.events[-1]
    assert event.type == "kam.opportunity.reopened.v1"
    assert (event.data.from_status, event.data.from_stage, event.data.to_stage) == ("won", 8, 6)
    assert opp.stage_log[-1].kind == "reopened"
    opp.move_to(7, MODEL, OWNER, now=NOW)  # moves again


def test_reopen_rules():
    with pytest.raises(Conflict):
        new().reopen("why", 3, MODEL, OWNER, now=NOW)
    closed = new()
    closed.close("lost", "price", None, OWNER, now=NOW)
    with pytest.raises(ValidationProblem) as err:
        closed.reopen("  ", 3, MODEL, OWNER, now=NOW)
    assert err.value.field == "reason"
    with pytest.raises(ValidationProblem) as err:
        closed.reopen("back", 8, MODEL, OWNER, now=NOW)
    assert err.value.field == "stage"


def test_closing_needs_a_reason_and_rejects_bad_input():
    with pytest.raises(ValidationProblem) as err:
        new().close("lost", "   ", None, OWNER, now=NOW)
    assert err.value.field == "reason"
    with pytest.raises(ValidationProblem):
        new().close("won", "ok", "Rival", OWNER, now=NOW)
    with pytest.raises(ValidationProblem) as err:
        new(amount="-1")
    assert err.value.field == "amount"


# ---------------------------------------------------------------- stage model
def stages_with(probabilities, **names):
    return [Stage(s.number, names.get(f"s{s.number}", s.name), s.description, p)
            for s, p in zip(DEFAULT_STAGES, probabilities, strict=False)]


def test_revising_the_stage_model_reports_what_changed_and_bumps_the_version():
    revised, changes = MODEL.revise(stages_with([10, 20, 35, 40, 50, 70, 90, 100], s2="Qualify"))
    assert revised.version == 2 and revised.probability(3) == 35
    assert changes == {"stage_3.probability": (30, 35), "stage_2.name": ("Confirm needs, budget, sponsor", "Qualify")}
    same, nothing = MODEL.revise(list(DEFAULT_STAGES))
    assert same is MODEL and nothing == {}


@pytest.mark.parametrize("stages, field, mentions", [
    (stages_with([10, 20, 30, 40, 50, 70, 90, 100])[:7], "stages", "missing [8]"),
    (stages_with([10, 20, 30, 40, 50, 70, 90, 100])[:7] + [Stage(7, "dup", "", 90)], "stages", "repeated [7]"),
    (stages_with([10, 20, 30, 40, 50, 70, 90, 90]), "stages.8.probability", "stays 100"),
    (stages_with([10, 20, 30, 25, 50, 70, 90, 100]), "stages.4.probability", "must not fall"),
    (stages_with([10, 20, 30, 40, 50, 70, 101, 100]), "stages.7.probability", "0..100"),
    (stages_with([10, 20, 30, 40, 50, 70, 90, 100], s1="  "), "stages.1.name", "needs a name"),
])
def test_stage_model_rules(stages, field, mentions):
    with pytest.raises(ValidationProblem) as err:
        MODEL.revise(stages)
    assert err.value.field == field and mentions in err.value.detail


def test_reweight_follows_the_model_for_open_opportunities_only():
    revised, _ = MODEL.revise(stages_with([10, 20, 35, 40, 50, 70, 90, 100]))
    opp, won = new(), new()
    opp.move_to(3, MODEL, OWNER, now=NOW)
    won.close("won", "ok", None, OWNER, now=NOW)
    version = opp.version
    opp.reweight(revised)
    won.reweight(revised)
    assert (opp.probability, opp.version, won.probability) == (35, version, 100)


# ---------------------------------------------------------------- fields and lines
CATALOGUE = {p.code: p for p in (
    Product.new(code="SRV-1", name="Server", family="hardware", active=True, now=NOW),
    Product.new(code="SUP-3Y", name="Support", family="services", active=True, now=NOW),
    replace(Product.new(code="OLD-1", name="Retired box", family="hardware", active=True, now=NOW), active=False))}


def line(product="SRV-1", quantity=2, expected=None, quoted=None, currency=None):
    return {"product_code": product, "quantity": quantity, "expected_price": expected, "quoted_price": quoted,
            "currency": currency}


def test_edit_records_each_changed_field_from_and_to():
    opp = new()
    # no change
    assert opp.update({"name": "Core banking", "close_date": dt.date(2026, 12, 1)}, OWNER, now=NOW) is False
    assert opp.update({"amount": Decimal("150000"), "close_date": dt.date(2027, 1, 31)}, OWNER, now=NOW) is True
    event = opp.events[-1]
    assert event.type == "kam.opportunity.updated.v1" and event.sequence == 2
    dumped = {k: v.model_dump(by_alias=True) for k, v in event.data.changes.items()}
    assert dumped == {"amount": {"from": "100000.00", "to": "150000.00"},
                      "close_date": {"from": "2026-12-01", "to": "2027-01-31"}}


def test_amount_can_follow_the_product_lines():
    opp = new()
    opp.update({"lines": [line(quantity=3, expected="1000", quoted="900.50"), line("SUP-3Y", 1, expected="5000")],
                "amount_from_lines": True}, OWNER, now=NOW, catalogue=CATALOGUE)
    assert opp.amount == Decimal("7701.50")  # 3 × 900.50 (our quote wins) + 1 × 5000 (expected)
    assert [line.amount for line in opp.lines] == [Decimal("2701.50"), Decimal("5000.00")]
    assert [(line.product_code, line.product, line.family) for line in opp.state().lines] == [
        ("SRV-1", "Server", "hardware"), ("SUP-3Y", "Support", "services")]
    with pytest.raises(ValidationProblem) as err:
        opp.update({"amount": Decimal("1")}, OWNER, now=NOW)
    assert err.value.field == "amount"
    opp.update({"amount_from_lines": False, "amount": Decimal("8000")}, OWNER, now=NOW)
    assert opp.amount == Decimal("8000.00")


@pytest.mark.parametrize("fields, field", [
    ({"lines": [line(quantity=-1)]}, "lines.0.quantity"),
    ({"lines": [line(quantity=0)]}, "lines.0.quantity"),
    ({"lines": [line(), line(currency="USD")]}, "lines.1.currency"),
    ({"lines": [line(product="  ")]}, "lines.0.product_code"),
    ({"lines": [line(), line(product="NOPE")]}, "lines.1.product_code"),
    ({"lines": [line(product="OLD-1")]}, "lines.0.product_code"),
    ({"lines": [line(expected="-5")]}, "lines.0.expected_price"),
    ({"name": "  "}, "name"),
    ({"currency": "XYZ"}, "currency"),
    ({"amount": Decimal("-1")}, "amount"),
])
def test_bad_edits_are_refused_and_change_nothing(fields, field):
    opp = new()
    before = opp.state()
    with pytest.raises(ValidationProblem) as err:
        opp.update(fields, OWNER, now=NOW, catalogue=CATALOGUE)
    assert err.value.field == field
    assert len(opp.events) == 1 and opp.version == before.version


def test_currency_change_with_priced_lines_needs_new_lines():
    opp = new()
    opp.update({"lines": [line(quoted="100")]}, OWNER, now=NOW, catalogue=CATALOGUE)
    with pytest.raises(ValidationProblem) as err:
        opp.update({"currency": "USD"}, OWNER, now=NOW)
    assert "mismatch" in err.value.detail and err.value.field == "currency"
    opp.update({"currency": "USD", "lines": [line(quoted="15", currency="USD")]}, OWNER, now=NOW,
               catalogue=CATALOGUE)
    assert opp.currency == "USD"


def test_forecast_category_is_the_primary_owners_call():
    opp = new()
    with pytest.raises(Forbidden):
        opp.update({"forecast_category": "commit"}, BOSS, now=NOW)
    opp.update({"forecast_category": "commit"}, OWNER, now=NOW)
    assert opp.state().forecast_category == "commit"
    opp.update({"forecast_category": None}, OWNER, now=NOW)
    assert opp.forecast_category is None


# ---------------------------------------------------------------- confirmation, owner, team
def test_only_the_primary_owner_confirms():
    opp = new()
    with pytest.raises(Forbidden):
        opp.set_confirmed(True, BOSS, now=NOW)
    assert opp.set_confirmed(True, OWNER, now=NOW) and opp.set_confirmed(True, OWNER, now=NOW) is False
    event = opp.events[-1]
    assert event.type == "kam.opportunity.confirmation_changed.v1" and event.data.opportunity.confirmed is True


def test_owner_change_only_by_a_superior_or_an_admin():
    opp = new()
    with pytest.raises(Forbidden) as err:
        opp.change_owner(uuid.uuid4(), OWNER, by_is_admin=False, by_is_above_owner=False, now=NOW)
    assert "the owner themselves" in err.value.detail
    with pytest.raises(Forbidden) as err:
        opp.change_owner(uuid.uuid4(), uuid.uuid4(), by_is_admin=False, by_is_above_owner=False, now=NOW)
    assert "peer or subordinate" in err.value.detail
    assert opp.version == 1
    opp.set_confirmed(True, OWNER, now=NOW)
    new_owner = uuid.uuid4()
    opp.set_team_member(new_owner, "presales", OWNER, now=NOW)
    assert opp.change_owner(new_owner, BOSS, by_is_admin=False, by_is_above_owner=True, reason="rebalance",
                            now=NOW)
    event = opp.events[-1]
    assert (event.data.from_owner_id, event.data.to_owner_id, event.data.reason) == (OWNER, new_owner, "rebalance")
    assert opp.confirmed is False  # the new owner has not confirmed it
    assert opp.team == ()  # the new owner is no longer a plain member


def test_team_members_join_change_role_and_leave():
    opp = new()
    member = uuid.uuid4()
    assert opp.set_team_member(member, "presales", OWNER, now=NOW)
    assert opp.set_team_member(member, "presales", OWNER, now=NOW) is False
    assert opp.set_team_member(member, "technical", OWNER, now=NOW)
    opp.remove_team_member(member, OWNER, now=NOW)
    kinds = [(e.data.change, e.data.role.before, e.data.role.after) for e in opp.events[1:]]
    assert kinds == [("added", None, "presales"), ("role_changed", "presales", "technical"),
                     ("removed", "technical", None)]
    with pytest.raises(ValidationProblem):
        opp.set_team_member(OWNER, "sales", OWNER, now=NOW)
    with pytest.raises(ValidationProblem):
        opp.remove_team_member(member, OWNER, now=NOW)


def test_account_merge_repoints_even_a_closed_opportunity():
    opp = new()
    opp.close("lost", "price", None, OWNER, now=NOW)
    survivor = uuid.uuid4()
    assert opp.repoint_account(survivor, cause="merge", now=NOW) and opp.account_id == survivor
    change = opp.events[-1].data.changes["account_id"]
    assert change.after == str(survivor) and opp.events[-1].data.cause == "merge"
    assert opp.repoint_account(survivor, cause="merge", now=NOW) is False


# ---------------------------------------------------------------- assessment
def answers(yes: int) -> dict[str, bool]:
    return {key: i < yes for i, key in enumerate(QUESTION_KEYS)}


def test_assessment_scores_per_dimension_and_high_value_is_over_ten():
    result = score(answers(11))
    assert [s for _, _, s in result.dimensions] == [5, 5, 1, 0] and result.total == 11 and result.high_value
    assert score(answers(10)).high_value is False
    opp = new()
    recorded = opp.record_assessment(score(answers(12)), 1, OWNER, now=NOW)
    assert (recorded.total, opp.high_value, opp.assessment_total, opp.version) == (12, True, 12, 2)
    assert opp.events[-1].data.total.before is None and opp.events[-1].data.total.after == 12


def test_assessment_names_missing_and_unknown_questions():
    given = answers(5)
    del given["margin_high"]
    given["gut_feeling"] = True
    with pytest.raises(ValidationProblem) as err:
        score(given)
    assert err.value.extra == {"missing": ["margin_high"], "unknown": ["gut_feeling"]}
    assert "margin_high" in err.value.detail and "gut_feeling" in err.value.detail


# ---------------------------------------------------------------- tender
def test_tender_changes_are_recorded_per_field():
    opp = new()
    tender = TenderState(sales_mode="bid", tender_type="negotiated", lots=[TenderLot(number=2, name=" B "),
                                                                           TenderLot(number=1, name="A")],
                         evaluation_weights=EvaluationWeights(price=40, service=20, technical=30, commercial=10))
    assert opp.set_tender(tender, OWNER, now=NOW)
    assert [lot.number for lot in opp.tender.lots] == [1, 2] and opp.tender.lots[1].name == "B"
    assert set(opp.events[-1].data.changes) == {"sales_mode", "tender_type", "lots", "evaluation_weights"}
    assert opp.set_tender(opp.tender, OWNER, now=NOW) is False


@pytest.mark.parametrize("tender, field", [
    (TenderState(evaluation_weights=EvaluationWeights(price=50, service=20, technical=20, commercial=20)),
     "evaluation_weights"),
    (TenderState(sales_mode="bid", tender_type="open_second_quote", single_quote_only=True), "single_quote_only"),
    (TenderState(sales_mode="distribution", tender_type="framework"), "tender_type"),
    (TenderState(sales_mode="bid", lots=[TenderLot(number=1, name="A"), TenderLot(number=1, name="B")]), "lots"),
])
def test_tender_rules(tender, field):
    opp = new()
    with pytest.raises(ValidationProblem) as err:
        opp.set_tender(tender, OWNER, now=NOW)
    assert err.value.field == field and opp.tender is None and opp.version == 1
