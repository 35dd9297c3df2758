"""Issue 10 item 3 against the real broker and a real database: a poison message in a consumer
batch goes to the DLQ while the rest of the batch is applied; an outbox row that can never be
published is parked after `outbox_max_attempts` instead of stalling its shard, and the admin routes
list and retry parked rows."""
import asyncio
import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, select

from kam_shared import consumer as consumer_module
from kam_shared.app import Runtime
from kam_shared.broker import ensure_topics
from kam_shared.consumer import BatchHandler, ConsumerRunner, batch_handler
from kam_shared.db import Database
from kam_shared.devstack import VAR, TansuBroker
from kam_shared.events import TOPICS, CloudEvent, DomainEvent, UserCreated, UserState, UserUpdated
from kam_shared.hierarchy import user_replica_handlers
from kam_shared.outbox import add_to_outbox
from kam_shared.settings import ServiceSettings
from kam_shared.tables import plumbing_tables
from kam_shared.testing import bearer, fresh_database, outbox_rows, service_client, user_event

TOO_LARGE = "x" * 1_100_000  # over the producer's max_request_size (1 MiB): the client refuses the message


@pytest.fixture
async def plumbing_db():
    async with fresh_database("parking") as url:
        metadata = MetaData()
        tables = plumbing_tables(metadata, user_replica=True)
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield url, tables, db
        await db.dispose()


async def _read_topic(bootstrap, topic, keys: set[bytes], timeout=3.0):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    got.extend(m for m in msgs if m.key in keys)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return got


def _user_change(user_id: uuid.UUID, version: int, name: str = "U") -> DomainEvent:
    state = UserState(id=user_id, email=f"{user_id.hex[:6]}@x.test", name=name, role="rep", superior_id=None,
                      version=version)
    if version == 1:
        return DomainEvent("kam.team.user_created.v1", user_id, 1, UserCreated(user=state))
    return DomainEvent("kam.team.user_updated.v1", user_id, version, UserUpdated(user=state))


async def _wait(condition, timeout=15.0):
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


async def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_of_the_batch_applied(broker, plumbing_db):
    url, tables, db = plumbing_db
    settings = ServiceSettings(database_url=url, service_name=f"poison-test-{uuid.uuid4().hex[:6]}",
                               kafka_bootstrap_servers=broker.bootstrap, kafka_idempotence=False,
                               consumer_max_attempts=2)
    apply_user = user_replica_handlers(tables)["kam.team.user_created.v1"]
    calls: list[int] = []

    async def apply_users(session, items):
        calls.append(len(items))
        for event, payload in items:
            if payload.user.name == "poison":
                raise ValueError(f"cannot apply user {payload.user.id}")
            await apply_user(session, event, payload)

    handler = batch_handler(apply_users)
    assert isinstance(handler, BatchHandler)
    runner = ConsumerRunner(settings, db, tables, {"kam.team.user_created.v1": handler})
    topic = runner.topics[0] + f".poison-test-{uuid.uuid4().hex[:6]}"  # a topic of its own: only this batch
    runner.topics = [topic]
    users = [uuid.uuid4() for _ in range(7)]
    poison = users[3]
    events = [user_event(u, "rep", None) for u in users]
    state = UserState(id=poison, email="p@x.test", name="poison", role="rep", superior_id=None, version=1)
    events[3] = DomainEvent("kam.team.user_created.v1", poison, 1, UserCreated(user=state)).to_cloudevent("/kam/t")
    key = uuid.uuid4().hex.encode()  # one key: one partition, so one poll brings the whole batch
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.model_dump_json().encode(), key=key)
    finally:
        await producer.stop()

    async def all_but_poison_applied():
        async with db.session() as session:
            ids = set((await session.scalars(select(tables.user_replica.c.id))).all())
        return ids >= set(users) - {poison}

    task = asyncio.create_task(runner.run())
    try:
        await _wait(all_but_poison_applied)
        dead = []
        for _ in range(50):
            dead = await _read_topic(broker.bootstrap, topic + ".dlq", {key}, timeout=0.5)
            if dead:
                break
    finally:
        await runner.stop()
        task.cancel()
    async with db.session() as session:
        applied = set((await session.scalars(select(tables.user_replica.c.id))).all())
        inbox = set((await session.scalars(select(tables.inbox.c.event_id))).all())
    assert applied == set(users) - {poison}
    assert inbox == {e.id for e in events} - {events[3].id}  # the poison one was never claimed for good
    assert calls[0] == 7  # the batch was tried whole first, then split
    assert len(dead) == 1 and json.loads(dead[0].value)["id"] == events[3].id
    headers = dict(dead[0].headers)
    assert headers["kam-dlq-reason"].decode().startswith("handler failed 2 times: ValueError: cannot apply user")
    assert headers["kam-dlq-consumer"].decode() == settings.service_name
    assert headers["kam-dlq-origin"].decode().startswith(topic + "/")
    # The one-event path is the same path, and leaves no ContextVar behind.
    assert await runner.handle(events[0]) is False
    assert consumer_module._applying_for.get() is None


async def test_a_row_that_cannot_be_published_is_parked_and_its_shard_moves_on(broker, plumbing_db):
    url, tables, _ = plumbing_db
    name = f"parking-test-{uuid.uuid4().hex[:6]}"
    common = dict(database_url=url, service_name=name, kafka_idempotence=False, outbox_max_attempts=3)
    writer = Runtime(ServiceSettings(**common, kafka_bootstrap_servers="127.0.0.1:1"), tables)
    user = uuid.uuid4()
    async with writer.uow() as uow:  # one aggregate: one shard; the middle change is too large to send
        uow.publish(_user_change(user, 1), _user_change(user, 2, name=TOO_LARGE), _user_change(user, 3))
    # The broker being down is not the row's fault: nothing is counted.
    for _ in range(3):
        with pytest.raises(KafkaConnectionError):
            await writer.relay.drain_once()
    async with writer.db.session() as session:
        assert set((await session.scalars(select(tables.outbox.c.attempts))).all()) == {0}
    await writer.relay.stop()
    await writer.db.dispose()

    up = Runtime(ServiceSettings(**common, kafka_bootstrap_servers=broker.bootstrap), tables)
    await ensure_topics(up.settings, [TOPICS["team"]])
    outbox = tables.outbox

    async def states():
        async with up.db.session() as session:
            return [(r.sent_at is not None, r.attempts) for r in
                    (await session.execute(select(outbox.c.sent_at, outbox.c.attempts).order_by(outbox.c.id))).all()]

    # One pass: v1 goes, v2 fails (one attempt counted), v3 waits behind it: its key stays in order.
    assert await up.relay.drain_once() == 1
    assert await states() == [(True, 0), (False, 1), (False, 0)]
    task = asyncio.create_task(up.relay.run())

    async def drained():
        return await up.relay.backlog() == 0 and await up.relay.parked_count() == 1

    try:
        await _wait(drained)

        async def gauge_says_one():
            return REGISTRY.get_sample_value("kam_outbox_parked", {"service": name}) == 1

        await _wait(gauge_says_one)
    finally:
        await up.relay.stop()
        task.cancel()
    async with up.db.session() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    await up.db.dispose()
    assert [r["sent_at"] is not None for r in rows] == [True, False, True]
    assert [r["attempts"] for r in rows] == [0, 3, 0]
    assert "MessageSizeTooLargeError" in rows[1]["last_error"]
    published = await _read_topic(broker.bootstrap, TOPICS["team"], {str(user).encode()})
    assert [CloudEvent.model_validate_json(m.value).sequence for m in published] == [1, 3]


async def test_admins_list_and_retry_parked_rows_and_others_are_refused(broker):
    async with service_client("team-svc", kafka_bootstrap_servers=broker.bootstrap, kafka_idempotence=False,
                              outbox_max_attempts=2) as client:
        runtime = client.runtime
        await ensure_topics(runtime.settings, [TOPICS["team"]])
        user = uuid.uuid4()
        async with runtime.uow() as uow:
            uow.publish(_user_change(user, 1, name=TOO_LARGE))
        admin, rep = bearer(uuid.uuid4(), "admin"), bearer(uuid.uuid4(), "rep")

        for path in ("/v1/admin/outbox/parked", "/v1/admin/outbox/parked/retry"):
            method = client.get if path.endswith("parked") else client.post
            refused = await method(path, headers=rep)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"

        assert (await client.get("/v1/admin/outbox/parked", headers=admin)).json() == {"items": [],
                                                                                       "next_cursor": None}
        before = await outbox_rows(runtime)
        for method, path, params, field in (
                (client.post, "/v1/admin/outbox/parked/retry", {"id": "x"}, "id"),
                (client.post, "/v1/admin/outbox/parked/retry", {"id": str(2**63)}, "id"),
                (client.get, "/v1/admin/outbox/parked", {"cursor": "not-ours"}, "cursor"),
                (client.get, "/v1/admin/outbox/parked", {"limit": "0"}, "limit")):
            bad = await method(path, params=params, headers=admin)
            assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json", bad.text
            assert field in bad.text
        assert await outbox_rows(runtime) == before  # a refused request changes nothing
        for _ in range(3):  # what start-up wrote goes; ours fails twice and is parked
            await runtime.relay.drain_once()
        listed = (await client.get("/v1/admin/outbox/parked", headers=admin)).json()
        assert len(listed["items"]) == 1 and listed["next_cursor"] is None
        row = listed["items"][0]
        assert row["event_type"] == "kam.team.user_created.v1" and row["message_key"] == str(user)
        assert row["attempts"] == 2 and row["last_error"].startswith("MessageSizeTooLargeError")
        assert await runtime.relay.backlog() == 0  # parked rows are not waiting
        assert await runtime.relay.drain_once() == 0  # and the relay skips them

        missing = await client.post("/v1/admin/outbox/parked/retry", params={"id": row["id"] + 1000}, headers=admin)
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        retried = await client.post("/v1/admin/outbox/parked/retry", params={"id": row["id"]}, headers=admin)
        assert retried.status_code == 200 and retried.json() == {"retried": 1}
        assert (await client.get("/v1/admin/outbox/parked", headers=admin)).json()["items"] == []
        assert await runtime.relay.backlog() == 1  # back in line, with its attempts from zero
        await runtime.relay.drain_once()  # still too large: one attempt of two...
        assert (await client.get("/v1/admin/outbox/parked", headers=admin)).json()["items"] == []
        await runtime.relay.drain_once()  # ...and parked again
        assert len((await client.get("/v1/admin/outbox/parked", headers=admin)).json()["items"]) == 1
        assert (await client.post("/v1/admin/outbox/parked/retry", headers=admin)).json() == {"retried": 1}
        await runtime.relay.stop()


async def test_a_broker_that_goes_away_mid_stream_counts_no_attempt_on_any_row(plumbing_db):
    url, tables, _ = plumbing_db
    own = TansuBroker(log_path=VAR / "log" / "test-broker-outage.log").start()  # one this test may stop
    stopped = False
    runtime = Runtime(ServiceSettings(database_url=url, service_name="outage-test", kafka_idempotence=False,
                                      kafka_bootstrap_servers=own.bootstrap, outbox_max_attempts=1), tables)
    try:
        await ensure_topics(runtime.settings, [TOPICS["team"]])
        user = uuid.uuid4()
        async with runtime.uow() as uow:
            uow.publish(_user_change(user, 1))
        assert await runtime.relay.drain_once() == 1  # the producer is connected and knows the topic
        own.stop()
        stopped = True
        async with runtime.uow() as uow:
            uow.publish(_user_change(user, 2), _user_change(user, 3))
        with pytest.raises(KafkaError):
            await runtime.relay.drain_once()
        async with runtime.db.session() as session:
            rows = (await session.execute(select(tables.outbox.c.attempts, tables.outbox.c.last_error)
                                          .order_by(tables.outbox.c.id))).all()
        assert [(r.attempts, r.last_error) for r in rows] == [(0, None)] * 3  # nothing counted, nothing parked
        assert await runtime.relay.backlog() == 2 and await runtime.relay.parked_count() == 0
    finally:
        await runtime.relay.stop()
        await runtime.db.dispose()
        if not stopped:
            own.stop()


async def test_a_batch_whose_handlers_publish_wakes_the_relay_and_a_silent_one_does_not(plumbing_db):
    """A consumer's handler that writes outbox rows (a merge, a health band) has the relay started
    as soon as its transaction commits, not at the relay's next poll; nothing else does."""
    url, tables, db = plumbing_db
    settings = ServiceSettings(database_url=url, service_name=f"kick-test-{uuid.uuid4().hex[:6]}")
    kicks: list[int] = []

    async def republish(session, event, payload):
        await add_to_outbox(session, tables, "/kam/kick-test", [_user_change(payload.user.id, 2, "echo")])

    async def ignore(session, event, payload):
        return None

    runner = ConsumerRunner(settings, db, tables, {"kam.team.user_created.v1": republish,
                                                   "kam.team.user_updated.v1": ignore},
                            outbox_written=lambda: kicks.append(1))
    user = uuid.uuid4()
    assert await runner.handle(user_event(user, "rep", None, version=1, created=False))
    assert kicks == []  # applied, nothing published
    assert await runner.handle(user_event(user, "rep", None))
    assert kicks == [1]
    async with db.session() as session:
        assert len((await session.execute(select(tables.outbox))).all()) == 1
