import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.events import (
    CATALOGUE,
    CloudEvent,
    DomainEvent,
    OpportunityCreated,
    OpportunityState,
    UserCreated,
    UserState,
    asyncapi_document,
    parse_payload,
)


def _opportunity(amount="100000") -> OpportunityState:
    return OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="Core banking", amount=Decimal(amount),
                            currency="CNY", close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4(), stage=1,
                            probability=10, status="open", version=1, updated_at=dt.datetime.now(dt.timezone.utc))


def test_domain_event_becomes_a_cloudevent_keyed_by_the_aggregate():
    opp = _opportunity()
    ce = DomainEvent("kam.opportunity.created.v1", opp.id, 1, OpportunityCreated(opportunity=opp)) \
        .to_cloudevent("/kam/opportunity-svc")
    wire = ce.model_dump(mode="json")
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "kam.opportunity.created.v1"
    assert wire["subject"] == wire["partitionkey"] == str(opp.id)
    assert wire["sequence"] == 1 and wire["source"] == "/kam/opportunity-svc"
    assert wire["data"]["opportunity"]["amount"] == "100000.00"  # money travels as a decimal string
    assert wire["time"].endswith("Z") or "+00:00" in wire["time"]
    back = parse_payload(CloudEvent.model_validate(wire))
    assert back.opportunity.amount == Decimal("100000.00")


def test_payload_of_the_wrong_type_is_refused():
    user = UserState(id=uuid.uuid4(), email="a@b.c", name="A", role="rep", superior_id=None, version=1)
    with pytest.raises(TypeError):
        DomainEvent("kam.opportunity.created.v1", user.id, 1, UserCreated(user=user)).to_cloudevent("/kam/x")
    with pytest.raises(KeyError):
        DomainEvent("kam.nope.v1", user.id, 1, UserCreated(user=user)).to_cloudevent("/kam/x")


def test_asyncapi_document_covers_every_event_type_and_topic():
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    names = {m["name"] for m in doc["components"]["messages"].values() if not m["name"].endswith(".dlq")}
    assert names == set(CATALOGUE)
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"kam.opportunity.events", "kam.team.events", "kam.account.events"} <= addresses
    assert "OpportunityStageChanged" in doc["components"]["schemas"]
    stage_changed = doc["components"]["schemas"]["OpportunityStageChanged"]
    assert {"from_stage", "to_stage", "opportunity"} <= set(stage_changed["properties"])
