"""Territory plan rules and the rebalance proposal arithmetic (pure)."""
import uuid

import pytest

from kam_shared.domain_errors import Conflict, Forbidden, ValidationProblem
from team_svc.territory_plans.domain import Load, check_decider, check_plan_content, next_status, propose, targets

A, B, C = (uuid.UUID(int=i) for i in (1, 2, 3))


def accounts(n):
    return [uuid.uuid4() for _ in range(n)]


def test_status_flow_draft_submitted_approved_or_rejected_and_resubmitted():
    assert next_status("draft", "submit") == "submitted"
    assert next_status("submitted", "approve") == "approved"
    assert next_status("submitted", "reject") == "rejected"
    assert next_status("rejected", "submit") == "submitted"
    for status, action in (("draft", "approve"), ("approved", "submit"), ("approved", "reject")):
        with pytest.raises(Conflict):
            next_status(status, action)


def test_only_someone_above_the_manager_or_an_admin_decides():
    manager, boss = uuid.uuid4(), uuid.uuid4()
    check_decider(decider=boss, owner=manager, decider_is_above=True, decider_is_admin=False)
    check_decider(decider=boss, owner=manager, decider_is_above=False, decider_is_admin=True)
    with pytest.raises(Forbidden):
        check_decider(decider=manager, owner=manager, decider_is_above=False, decider_is_admin=True)
    with pytest.raises(Forbidden):
        check_decider(decider=boss, owner=manager, decider_is_above=False, decider_is_admin=False)


def test_plan_content_refuses_duplicates_and_negative_capacity():
    someone = uuid.uuid4()
    with pytest.raises(ValidationProblem) as exc:
        check_plan_content({"coverage": [{"user_id": someone}, {"user_id": someone}]})
    assert exc.value.field == "coverage"
    with pytest.raises(ValidationProblem) as exc:
        check_plan_content({"target_account_ids": [someone, someone]})
    assert exc.value.field == "target_account_ids"
    with pytest.raises(ValidationProblem):
        check_plan_content({"capacity_accounts": -1})


def test_targets_from_plans_and_an_even_share_of_the_rest():
    loads = [Load(A, accounts(6), 2), Load(B, accounts(0), None), Load(C, accounts(1), None)]
    assert targets(loads) == {A: 2, B: 3, C: 2}
    assert targets([Load(A, accounts(5), None), Load(B, accounts(0), None)]) == {A: 3, B: 2}


def test_proposal_moves_from_over_to_under_capacity_until_balanced():
    held = accounts(6)
    moves = propose([Load(A, held, 2), Load(B, [], None), Load(C, accounts(1), None)])
    assert len(moves) == 4 and all(m.from_territory_id == A for m in moves)
    assert sorted(m.to_territory_id for m in moves) == [B, B, B, C]
    assert {m.account_id for m in moves} == set(held[2:])  # the last-listed accounts move
    assert propose([Load(A, accounts(2), None), Load(B, accounts(2), None)]) == []
    # Over capacity everywhere: nowhere to move to, nothing proposed.
    assert propose([Load(A, accounts(3), 1), Load(B, accounts(3), 1)]) == []
