"""The audit trail's pure part: the state an event leaves its subject in, and the field diff."""
import datetime as dt
import uuid

from pydantic import BaseModel

from kam_shared.actor import set_actor
from kam_shared.audit_state import audit_row, diff, flatten, state_of
from kam_shared.events import DomainEvent
from kam_shared.events.account import AccountState, AccountUpdated, FieldChange
from kam_shared.events.territory_plan import TerritoriesRebalanced, TerritoryMove


def test_state_is_the_object_whose_id_is_the_subject():
    subject = str(uuid.uuid4())
    data = {"account": {"id": subject, "name": "A"}, "changes": {"name": {"from": "a", "to": "A"}},
            "changed_by": "x", "parent": {"id": "someone else"}}
    assert state_of(data, subject) == {"id": subject, "name": "A"}
    # No such object (the fiscal calendar, a rebalance): the data less what only describes the change.
    assert state_of({"calendar": {"version": 2}, "changes": {}, "changed_by": "x", "cause": "update"}, "cal") == {
        "calendar": {"version": 2}}


def test_flatten_nests_by_dotted_path_and_keeps_lists_whole():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, {"f": 2}], "g": {}}) == {
        "a.b": 1, "a.c.d": None, "e": [1, {"f": 2}], "g": {}}


def test_diff_lists_each_changed_field_from_and_to_sorted_and_ignores_version_and_updated_at():
    before = {"name": "A", "region": "north", "tender": {"deadline": "2026-01-01", "lots": [1]}, "version": 1,
              "updated_at": "t1"}
    after = {"name": "A", "region": "south", "tender": {"deadline": "2026-02-01", "lots": [1, 2]}, "website": "w",
             "version": 2, "updated_at": "t2"}
    assert diff(before, after) == [
        {"field": "region", "from": "north", "to": "south"},
        {"field": "tender.deadline", "from": "2026-01-01", "to": "2026-02-01"},
        {"field": "tender.lots", "from": [1], "to": [1, 2]},
        {"field": "website", "from": None, "to": "w"},
    ]
    assert diff(after, after) == []
    # A field that disappears goes to null.
    assert diff({"a": 1}, {}) == [{"field": "a", "from": 1, "to": None}]


def test_first_event_lists_the_fields_it_set_not_the_empty_ones():
    assert diff(None, {"name": "A", "website": None, "phones": [], "id": "1", "version": 1}) == [
        {"field": "id", "from": None, "to": "1"}, {"field": "name", "from": None, "to": "A"}]


def test_audit_row_names_the_requests_actor_else_the_payloads_own():
    account = uuid.uuid4()
    by = uuid.uuid4()
    event = DomainEvent("kam.account.updated.v1", account, 2, AccountUpdated(
        account=AccountState(id=account, name="A", version=2), changes={"name": FieldChange(before="a", after="A")},
        changed_by=by))
    set_actor(None)
    row = audit_row(event.to_cloudevent("/kam/account-svc"))
    assert (row["subject"], row["sequence"], row["actor_id"]) == (str(account), 2, str(by))
    assert '"name": "A"' in row["state"] and "changes" not in row["state"]
    caller = uuid.uuid4()
    set_actor(caller)
    try:
        ce = event.to_cloudevent("/kam/account-svc")
        assert ce.model_dump()["actor"] == str(caller) and audit_row(ce)["actor_id"] == str(caller)
        assert isinstance(audit_row(ce)["at"], dt.datetime)
    finally:
        set_actor(None)


def test_a_rebalance_is_its_own_subject_with_its_moves_as_state():
    rid, account, to = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    payload = TerritoriesRebalanced(id=rid, moves=[TerritoryMove(account_id=account, from_territory_id=None,
                                                                 to_territory_id=to, to_owner_id=uuid.uuid4())])
    assert isinstance(payload, BaseModel)
    row = audit_row(DomainEvent("kam.team.territories_rebalanced.v1", rid, 1, payload).to_cloudevent("/kam/team-svc"))
    assert str(account) in row["state"] and row["subject"] == str(rid)
