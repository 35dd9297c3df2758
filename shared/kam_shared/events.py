"""CloudEvents 1.0 envelope and the typed catalogue of every KAM domain event.

Payload models live here (not in the services) because they are the contract between
services: the producer builds them, consumers parse them, and the AsyncAPI document that
subscribers read is generated from them (`kam catalogue`), never written by hand.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .money import Money

TOPICS = {
    "account": "kam.account.events",
    "opportunity": "kam.opportunity.events",
    "forecast": "kam.forecast.events",
    "team": "kam.team.events",
}


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CloudEvent(BaseModel):
    """Structured-mode CloudEvent (`application/cloudevents+json`) with KAM's extensions."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: dt.datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    sequence: int = Field(description="version of the aggregate after this change")
    partitionkey: str = Field(description="Kafka message key: the aggregate id")


# --- payload models -------------------------------------------------------------------

class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class UserState(_Payload):
    id: uuid.UUID
    email: str
    name: str
    role: Literal["rep", "manager", "admin"]
    superior_id: uuid.UUID | None
    active: bool = True
    version: int


class FieldChange(_Payload):
    before: Any = Field(alias="from")
    after: Any = Field(alias="to")
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class UserCreated(_Payload):
    user: UserState


class UserUpdated(_Payload):
    user: UserState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


class AccountState(_Payload):
    id: uuid.UUID
    name: str
    credit_code: str | None = None
    industry: str | None = None
    region: str | None = None
    owner_id: uuid.UUID | None = None
    version: int


class AccountCreated(_Payload):
    account: AccountState


class OpportunityState(_Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    amount: Money
    currency: str
    close_date: dt.date
    owner_id: uuid.UUID
    stage: int = Field(ge=1, le=8)
    probability: int = Field(ge=0, le=100)
    status: Literal["open", "won", "lost"]
    version: int
    updated_at: dt.datetime


class OpportunityCreated(_Payload):
    opportunity: OpportunityState


class OpportunityStageChanged(_Payload):
    opportunity: OpportunityState
    from_stage: int
    to_stage: int
    changed_by: uuid.UUID | None = None


class OpportunityClosed(_Payload):
    opportunity: OpportunityState
    outcome: Literal["won", "lost"]
    reason: str
    competitor: str | None = None
    from_stage: int
    closed_by: uuid.UUID | None = None


@dataclass(frozen=True)
class EventSpec:
    type: str
    topic: str
    model: type[BaseModel]
    summary: str


CATALOGUE: dict[str, EventSpec] = {
    spec.type: spec
    for spec in [
        EventSpec("kam.team.user_created.v1", TOPICS["team"], UserCreated, "A user joined the sales organisation."),
        EventSpec("kam.team.user_updated.v1", TOPICS["team"], UserUpdated,
                  "A user's role, superior (hierarchy move) or active flag changed; carries the full state."),
        EventSpec("kam.account.created.v1", TOPICS["account"], AccountCreated, "An account was created."),
        EventSpec("kam.opportunity.created.v1", TOPICS["opportunity"], OpportunityCreated,
                  "An opportunity was created (stage 1)."),
        EventSpec("kam.opportunity.stage_changed.v1", TOPICS["opportunity"], OpportunityStageChanged,
                  "An open opportunity moved to another funnel stage (from_stage → to_stage)."),
        EventSpec("kam.opportunity.closed.v1", TOPICS["opportunity"], OpportunityClosed,
                  "An opportunity was closed won (stage 8, probability 100) or lost (probability 0)."),
    ]
}


@dataclass
class DomainEvent:
    """What a domain object records; the unit of work turns it into an outbox row."""

    type: str
    subject: uuid.UUID | str
    sequence: int
    data: BaseModel

    def to_cloudevent(self, source: str) -> CloudEvent:
        spec = CATALOGUE.get(self.type)
        if spec is None:
            raise KeyError(f"event type {self.type} is not in the catalogue")
        if not isinstance(self.data, spec.model):
            raise TypeError(f"{self.type} expects {spec.model.__name__}, got {type(self.data).__name__}")
        return CloudEvent(
            id=str(uuid.uuid4()),
            source=source,
            type=self.type,
            subject=str(self.subject),
            time=utcnow(),
            data=self.data.model_dump(mode="json", by_alias=True),
            sequence=self.sequence,
            partitionkey=str(self.subject),
        )

    @property
    def topic(self) -> str:
        return CATALOGUE[self.type].topic


def parse_payload(event: CloudEvent) -> BaseModel:
    spec = CATALOGUE[event.type]
    return spec.model.model_validate(event.data)


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 document for all topics, generated from the payload models."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": CloudEvent.model_json_schema(ref_template="#/components/schemas/{model}")}
    for spec in CATALOGUE.values():
        name = spec.type.removeprefix("kam.").replace(".", "_")
        schema = spec.model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        for def_name, def_schema in schema.pop("$defs", {}).items():
            schemas[def_name] = def_schema
        schemas[spec.model.__name__] = schema
        messages[name] = {
            "name": spec.type,
            "summary": spec.summary,
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {"ce_type": {"const": spec.type}}},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {"type": "object", "properties": {
                        "type": {"const": spec.type},
                        "data": {"$ref": f"#/components/schemas/{spec.model.__name__}"}}},
                ]
            },
        }
        channel = channels.setdefault(spec.topic.replace(".", "_"), {
            "address": spec.topic,
            "description": f"Kafka topic {spec.topic}; message key = aggregate id (per-aggregate order).",
            "messages": {},
        })
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for ch_name, ch in channels.items():
        operations[f"receive_{ch_name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{ch_name}"},
            "messages": [{"$ref": f"#/channels/{ch_name}/messages/{m}"} for m in ch["messages"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "KAM domain events", "version": "1.0.0",
                 "description": "CloudEvents 1.0 (structured JSON) published by the KAM services."},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
