"""forecast-svc facing a bad message on its topic (not JSON, an invalid payload, a type that is not
in the event catalogue): it goes to the dead-letter topic with the reason, and the consumer keeps
applying what comes after it."""
import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kam_shared.testing import wait_for


async def _publish(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait("kam.opportunity.events", value, key=key)
    finally:
        await producer.stop()


async def _dead_letters(bootstrap: str, keys: set[bytes], consumer_group: str,
                        timeout: float = 15.0) -> dict[bytes, dict]:
    """The DLQ records one consumer group wrote for these keys (every subscriber of the topic
    dead-letters a bad message on its own)."""
    consumer = AIOKafkaConsumer("kam.opportunity.events.dlq", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: dict[bytes, dict] = {}
    try:
        async with asyncio.timeout(timeout):
            while not keys <= set(found):
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    for m in msgs:
                        headers = {k: v.decode() for k, v in m.headers}
                        if m.key in keys and headers.get("kam-dlq-consumer") == consumer_group:
                            found[m.key] = headers
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return found


def test_malformed_and_invalid_events_are_dead_lettered_and_the_roll_ups_keep_moving(stack, org):
    api, auth, ids = org
    not_json, bad_payload, unknown = uuid.uuid4().hex.encode(), uuid.uuid4().hex.encode(), uuid.uuid4().hex.encode()
    invalid = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/kam/opportunity-svc",
               "type": "kam.opportunity.stage_changed.v1", "subject": bad_payload.decode(),
               "time": "2026-11-23T10:00:00Z", "sequence": 2, "partitionkey": bad_payload.decode(),
               "data": {"opportunity": {"id": "not-a-uuid", "stage": 12}}}
    not_in_catalogue = {**invalid, "id": str(uuid.uuid4()), "type": "kam.opportunity.teleported.v1",
                        "subject": unknown.decode(), "partitionkey": unknown.decode(), "data": {}}
    asyncio.run(_publish(stack.bootstrap, [(not_json, b"{this is not json"),
                                           (bad_payload, json.dumps(invalid).encode()),
                                           (unknown, json.dumps(not_in_catalogue).encode())]))

    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Poison Test Ltd"})
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": account.json()["id"], "name": "After the poison", "amount": "1234.00", "currency": "EUR",
        "close_date": "2031-05-05", "owner_id": ids["rep"]})
    assert opp.status_code == 201, opp.text
    view, _ = wait_for(lambda: api.rollup(auth["rep"], ids["rep"], period="2031-05", currency="EUR"),
                       lambda r: r.get("open_amount") == "1234.00", timeout=10)
    assert view["open_count"] == 1

    dead = asyncio.run(_dead_letters(stack.bootstrap, {not_json, bad_payload, unknown}, "forecast-svc"))
    assert "not a CloudEvent" in dead[not_json]["kam-dlq-reason"]
    assert "payload invalid" in dead[bad_payload]["kam-dlq-reason"]
    assert "unknown event type 'kam.opportunity.teleported.v1'" in dead[unknown]["kam-dlq-reason"]
