import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.errors import Conflict, ValidationProblem
from opportunity_svc.domain.funnel import DEFAULT_STAGES, probability_of
from opportunity_svc.domain.opportunity import Opportunity


def new(amount="100000") -> Opportunity:
    return Opportunity.open(account_id=uuid.uuid4(), name="Core banking", amount=Decimal(amount), currency="CNY",
                            close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4())


def test_default_probabilities():
    assert [s.probability for s in DEFAULT_STAGES] == [10, 20, 30, 40, 50, 70, 90, 100]


def test_new_opportunity_starts_at_stage_one_and_records_created():
    opp = new()
    assert (opp.stage, opp.probability, opp.status, opp.version) == (1, 10, "open", 1)
    assert [e.type for e in opp.events] == ["kam.opportunity.created.v1"]


def test_moves_forward_skip_and_back_are_recorded_with_from_and_to():
    opp = new()
    opp.move_to(5, None)
    opp.move_to(3, None)
    changes = [(e.data.from_stage, e.data.to_stage, e.sequence) for e in opp.events[1:]]
    assert changes == [(1, 5, 2), (5, 3, 3)]
    assert opp.probability == probability_of(3) == 30


def test_moving_to_the_current_stage_changes_nothing():
    opp = new()
    assert opp.move_to(1, None) is False
    assert opp.version == 1 and len(opp.events) == 1


@pytest.mark.parametrize("stage", [0, 8, 9, -1])
def test_only_open_stages_are_reachable_by_a_move(stage):
    with pytest.raises(ValidationProblem) as err:
        new().move_to(stage, None)
    assert err.value.field == "stage"


def test_closing_won_and_lost():
    won = new()
    won.close("won", "best TCO", None, None)
    assert (won.stage, won.probability, won.status) == (8, 100, "won")
    lost = new()
    lost.move_to(4, None)
    lost.close("lost", "price", "Rival Corp", None)
    event = lost.events[-1]
    assert (lost.probability, lost.status, event.data.from_stage, event.data.competitor) == (0, "lost", 4, "Rival Corp")


def test_closed_opportunities_do_not_move_or_close_again():
    opp = new()
    opp.close("won", "signed", None, None)
    with pytest.raises(Conflict):
        opp.move_to(3, None)
    with pytest.raises(Conflict):
        opp.close("lost", "oops", None, None)


def test_closing_needs_a_reason_and_rejects_bad_input():
    with pytest.raises(ValidationProblem) as err:
        new().close("lost", "   ", None, None)
    assert err.value.field == "reason"
    with pytest.raises(ValidationProblem):
        new().close("won", "ok", "Rival", None)
    with pytest.raises(ValidationProblem) as err:
        new(amount="-1")
    assert err.value.field == "amount"
