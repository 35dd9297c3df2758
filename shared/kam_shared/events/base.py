"""The CloudEvents 1.0 envelope, the event registry and the AsyncAPI generator.

Payload models live in one module per domain beside this one (team, account, opportunity,
forecast); each registers its `EventSpec`s here.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..actor import actor_in, current_actor
from ..services import SERVICES
from ..settings import TOPIC_PARTITIONS
from ..tracing import current_traceparent

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



class Payload(BaseModel):
    """Base of every event payload: unknown fields are kept, so consumers tolerate additions."""
    model_config = ConfigDict(extra="allow")


class FieldChange(Payload):
    """A changed field: {"from": before, "to": after}."""
    before: Any = Field(alias="from")
    after: Any = Field(alias="to")
    model_config = ConfigDict(populate_by_name=True, extra="allow")


@dataclass(frozen=True)
class EventSpec:
    type: str
    topic: str
    model: type[BaseModel]
    summary: str


CATALOGUE: dict[str, EventSpec] = {}


def register(*specs: EventSpec) -> None:
    """Each domain module (team, account, opportunity, forecast) registers its event types."""
    for spec in specs:
        if spec.type in CATALOGUE and CATALOGUE[spec.type] is not spec:
            raise ValueError(f"event type {spec.type} registered twice")
        CATALOGUE[spec.type] = spec


@dataclass
class DomainEvent:
    """What a domain object records; the unit of work turns it into an outbox row."""

    type: str
    subject: uuid.UUID | str
    sequence: int
    data: BaseModel
    # When it happened, if not now: only an admin's import of past history sets it (opportunity-svc's
    # POST /v1/admin/opportunities/import), so the event's `time` is the historical moment.
    time: dt.datetime | None = None

    def to_cloudevent(self, source: str) -> CloudEvent:
        spec = CATALOGUE.get(self.type)
        if spec is None:
            raise KeyError(f"event type {self.type} is not in the catalogue")
        if not isinstance(self.data, spec.model):
            raise TypeError(f"{self.type} expects {spec.model.__name__}, got {type(self.data).__name__}")
        data = self.data.model_dump(mode="json", by_alias=True)
        actor = current_actor()
        actor = str(actor) if actor is not None else actor_in(data)
        return CloudEvent(
            id=str(uuid.uuid4()),
            source=source,
            type=self.type,
            subject=str(self.subject),
            time=self.time or utcnow(),
            data=data,
            sequence=self.sequence,
            partitionkey=str(self.subject),
            # CloudEvents distributed-tracing extension: the trace of the request that made the change
            **({"traceparent": traceparent} if (traceparent := current_traceparent()) else {}),
            # KAM extension: the user whose request made the change (absent for system changes)
            **({"actor": actor} if actor else {}),
        )

    @property
    def topic(self) -> str:
        return CATALOGUE[self.type].topic


def parse_payload(event: CloudEvent) -> BaseModel:
    spec = CATALOGUE[event.type]
    return spec.model.model_validate(event.data)


# The Kafka headers of every event message. `content-type` makes it a CloudEvents STRUCTURED message
# (the whole event is the JSON value). No `ce_*` header: the CloudEvents Kafka binding reads any
# `ce_`-prefixed header as binary content mode, so SDKs that auto-detect the mode would misread it.
# `kam-event-type` repeats the event's `type` so a consumer can skip another service's event unparsed.
CONTENT_TYPE = "application/cloudevents+json"
EVENT_TYPE_HEADER = "kam-event-type"

KAFKA_PROTOCOL_VERSION = "4.1"  # the Apache Kafka release the production path runs and tests on
KAFKA_BINDING_VERSION = "0.5.0"
DLQ_HEADERS = {
    "kam-dlq-reason": "why the consumer could not handle the message",
    "kam-dlq-consumer": "the consumer group that gave up on it",
    "kam-dlq-origin": "where it came from: <topic>/<partition>/<offset>",
}


def _add_kafka_bindings(channels: dict[str, Any], messages: dict[str, Any]) -> None:
    """The key (the aggregate id: one aggregate's events stay in order) and each topic's layout."""
    for message in messages.values():
        message["bindings"] = {"kafka": {"key": {"type": "string", "format": "uuid",
                                                 "description": "the aggregate id (the CloudEvent's subject)"},
                                         "bindingVersion": KAFKA_BINDING_VERSION}}
    for channel in channels.values():
        channel["bindings"] = {"kafka": {"topic": channel["address"], "partitions": TOPIC_PARTITIONS, "replicas": 1,
                                         "bindingVersion": KAFKA_BINDING_VERSION}}


def _add_dlq_channels(channels: dict[str, Any], messages: dict[str, Any]) -> None:
    """`<topic>.dlq`: the original message (value, key, headers) plus the consumer's reason."""
    for ch_name, channel in list(channels.items()):
        topic = channel["address"]
        name = f"{ch_name}_dlq_message"
        messages[name] = {
            "name": f"{topic}.dlq",
            "summary": f"A message from {topic} that a consumer could not handle, as it was, with why",
            "headers": {"type": "object", "required": list(DLQ_HEADERS), "properties": {
                header: {"type": "string", "description": text} for header, text in DLQ_HEADERS.items()}},
            "payload": {"description": "the original message's bytes, unchanged"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "the original message's key"},
                                   "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        channels[f"{ch_name}_dlq"] = {
            "address": f"{topic}.dlq",
            "description": f"Dead letters of {topic}: what a consumer group could not apply after its retries.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": f"{topic}.dlq", "partitions": TOPIC_PARTITIONS, "replicas": 1,
                                   "bindingVersion": KAFKA_BINDING_VERSION}},
        }


def _receive_operation(ch_name: str, channel: dict[str, Any]) -> dict[str, Any]:
    groups = sorted(s.name for s in SERVICES.values() if channel["address"] in s.consumes)
    operation = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{ch_name}"},
        "messages": [{"$ref": f"#/channels/{ch_name}/messages/{m}"} for m in channel["messages"]],
    }
    if groups:
        operation["summary"] = "consumed by the consumer groups " + ", ".join(groups)
        operation["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": groups},
                                           "bindingVersion": KAFKA_BINDING_VERSION}}
    return operation


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 document for all topics, generated from the payload models."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": CloudEvent.model_json_schema(ref_template="#/components/schemas/{model}")}
    schemas["CloudEvent"]["properties"]["traceparent"] = {
        "type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "CloudEvents distributed-tracing extension: the W3C trace context of the request that "
                       "made the change (absent when none)"}
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
            "headers": {"type": "object", "required": ["content-type", EVENT_TYPE_HEADER], "properties": {
                "content-type": {"const": CONTENT_TYPE,
                                 "description": "CloudEvents structured content mode (no ce_* headers)"},
                EVENT_TYPE_HEADER: {"const": spec.type, "description": "the event's type, to skip it unparsed"}}},
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
    _add_kafka_bindings(channels, messages)
    _add_dlq_channels(channels, messages)
    for ch_name, ch in channels.items():
        operations[f"receive_{ch_name}"] = _receive_operation(ch_name, ch)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "KAM domain events", "version": "1.0.0",
                 "description": "CloudEvents 1.0 (structured JSON) published by the KAM services."},
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "protocolVersion": KAFKA_PROTOCOL_VERSION,
                      "description": "`make run`: the embedded broker (KAFKA_BOOTSTRAP_SERVERS overrides it)"},
            "cluster": {"host": "kafka:9092", "protocol": "kafka", "protocolVersion": KAFKA_PROTOCOL_VERSION,
                        "description": "docker-compose and Kubernetes: Apache Kafka (KRaft), PLAINTEXT inside "
                                       "the cluster"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
