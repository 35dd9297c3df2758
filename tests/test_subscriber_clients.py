"""What a subscriber's own Kafka client reads: `kam.opportunity.events` consumed in a consumer group
with confluent-kafka (librdkafka) and kafka-python (and kcat, where it is installed), from events
made by real requests, each message parsed with the CloudEvents Python SDK's Kafka binding (its
structured-mode parser and its auto-detecting `from_kafka`)."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage as CoreKafkaMessage
from cloudevents.core.bindings.kafka import from_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.kafka import KafkaMessage, from_structured

TOPIC = "kam.opportunity.events"


@pytest.fixture(scope="module")
def changed_opportunity(stack, org):
    """An opportunity created and moved to stage 4 over HTTP: two events on the topic."""
    api, auth, ids = org
    account = api.call("POST", "account-svc", "/v1/accounts", auth["admin"],
                       json={"name": f"Subscriber {uuid.uuid4().hex[:6]}", "owner_id": ids["rep"]}).json()["id"]
    created = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["admin"], json={
        "account_id": account, "name": "Subscribed deal", "amount": "4200.00", "currency": "CNY",
        "close_date": "2026-12-15", "owner_id": ids["rep"]})
    assert created.status_code == 201, created.text
    opp = created.json()["id"]
    moved = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp}/stage", auth["admin"], json={"stage": 4})
    assert moved.status_code == 200, moved.text
    return opp


def _check_message(headers: dict[str, bytes], key: bytes | None, value: bytes, opp: str) -> dict | None:
    """One message as a CloudEvents subscriber sees it; returns the event's JSON. None for a message
    opportunity-svc's relay did not publish (every one it publishes names its type in
    kam-event-type): the poison tests put raw garbage on the topic on purpose."""
    if "kam-event-type" not in headers:
        return None
    assert headers.get("content-type") == b"application/cloudevents+json"  # structured content mode
    assert not [h for h in headers if h.lower().startswith("ce_")], headers  # no binary-mode attributes
    legacy = from_structured(KafkaMessage(headers, key, value))  # the SDK's 1.x API, structured mode
    detected = from_kafka(CoreKafkaMessage(headers=headers, key=key, value=value), JSONFormat())  # auto-detect
    body = json.loads(value)
    for attrs in (legacy.get_attributes(), detected.get_attributes()):
        assert attrs["specversion"] == "1.0"
        assert attrs["id"] == body["id"] and attrs["type"] == body["type"]
        assert attrs["source"] == "/kam/opportunity-svc"
        assert attrs["partitionkey"] in (key, key.decode())  # the Kafka key is the aggregate id
    if body["subject"] == opp:
        assert detected.get_data()["opportunity"]["id"] == opp
        assert legacy.data["opportunity"]["id"] == opp
        assert key == opp.encode()
    return body


def _types_of_ours(bodies: list[dict | None], opp: str) -> list[str]:
    return [b["type"] for b in bodies if b is not None and b["subject"] == opp]


def test_the_cloudevents_sdk_would_misread_a_ce_header_on_a_structured_message(changed_opportunity):
    """Why no `ce_*` header is sent: with one, the SDK's auto-detection takes the message for binary mode."""
    value = json.dumps({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "data": {"a": 1}}).encode()
    headers = {"content-type": b"application/cloudevents+json"}
    assert from_kafka(CoreKafkaMessage(headers=headers, key=None, value=value), JSONFormat()).get_id() == "x"
    with pytest.raises(Exception):  # noqa: B017 - whatever it raises, it cannot read the event
        from_kafka(CoreKafkaMessage(headers={**headers, "ce_type": b"t"}, key=None, value=value), JSONFormat())


def test_confluent_kafka_reads_the_events_in_a_consumer_group(stack, changed_opportunity):
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": f"sub-librdkafka-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    bodies: list[dict] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_types_of_ours(bodies, changed_opportunity)) < 2:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            bodies.append(_check_message(dict(msg.headers() or []), msg.key(), msg.value(), changed_opportunity))
        assert consumer.assignment(), "librdkafka never got partitions from the group coordinator"
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    assert _types_of_ours(bodies, changed_opportunity) == [
        "kam.opportunity.created.v1", "kam.opportunity.stage_changed.v1"]


def test_kafka_python_reads_the_events_in_a_consumer_group(stack, changed_opportunity):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(TOPIC, bootstrap_servers=stack.bootstrap,
                             group_id=f"sub-kafka-python-{uuid.uuid4().hex[:6]}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
    bodies: list[dict] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_types_of_ours(bodies, changed_opportunity)) < 2:
            for messages in consumer.poll(timeout_ms=1000).values():
                for msg in messages:
                    bodies.append(_check_message(dict(msg.headers or []), msg.key, msg.value, changed_opportunity))
        assert consumer.assignment(), "kafka-python never got partitions from the group coordinator"
        consumer.commit()
    finally:
        consumer.close()
    assert _types_of_ours(bodies, changed_opportunity) == [
        "kam.opportunity.created.v1", "kam.opportunity.stage_changed.v1"]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)")
def test_kcat_reads_the_events_in_a_consumer_group(stack, changed_opportunity):
    """kcat's balanced consumer (-G), JSON envelope with headers (-J), until the end of the topic (-e)."""
    done = subprocess.run(["kcat", "-b", stack.bootstrap, "-G", f"sub-kcat-{uuid.uuid4().hex[:6]}", "-o", "beginning",
                           "-e", "-J", "-q", TOPIC], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    bodies = []
    for line in done.stdout.splitlines():
        envelope = json.loads(line)
        headers = envelope.get("headers") or []
        header_map = {headers[i]: headers[i + 1].encode() for i in range(0, len(headers), 2)}
        bodies.append(_check_message(header_map, envelope["key"].encode(), envelope["payload"].encode(),
                                     changed_opportunity))
    assert _types_of_ours(bodies, changed_opportunity) == [
        "kam.opportunity.created.v1", "kam.opportunity.stage_changed.v1"]
