"""Issue 13 item 5 against the real broker and a real database: only the owner speaks on its topic.

An event on kam.team.events whose `source` is not team-svc (or whose type is not a kam.team one) is
dead-lettered with the reason and never applied; an event whose version jumps implausibly (the forged
move with version 10,000 that would pin the replica) is dead-lettered too, and the real next change
is applied afterwards.
"""
import asyncio
import json
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import MetaData, select

from kam_shared.broker import ensure_topics
from kam_shared.consumer import ConsumerRunner, foreign_event
from kam_shared.db import Database
from kam_shared.events import AccountCreated, AccountState, DomainEvent, UserCreated, UserState, UserUpdated
from kam_shared.hierarchy import user_replica_handlers
from kam_shared.replicas import ImplausibleVersion, upsert_versioned, version_jump_guard
from kam_shared.settings import ServiceSettings
from kam_shared.tables import plumbing_tables
from kam_shared.testing import fresh_database

TOPIC = "kam.team.events"


@pytest.fixture
async def replica_db():
    async with fresh_database("forged") as url:
        metadata = MetaData()
        tables = plumbing_tables(metadata, user_replica=True)
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield url, tables, db
        await db.dispose()


def user_change(user_id: uuid.UUID, version: int, name: str, superior: uuid.UUID | None = None,
                source: str = "/kam/team-svc"):
    state = UserState(id=user_id, email=f"{user_id.hex[:8]}@forged.test", name=name, role="rep",
                      superior_id=superior, version=version)
    kind, payload = (("kam.team.user_created.v1", UserCreated(user=state)) if version == 1 else
                     ("kam.team.user_updated.v1", UserUpdated(user=state)))
    return DomainEvent(kind, user_id, version, payload).to_cloudevent(source)


def test_foreign_event_names_what_is_wrong():
    user = uuid.uuid4()
    assert foreign_event(TOPIC, user_change(user, 1, "ok")) is None
    assert "source '/kam/account-svc'" in foreign_event(TOPIC, user_change(user, 1, "x", source="/kam/account-svc"))
    account = DomainEvent("kam.account.created.v1", user, 1, AccountCreated(account=AccountState(
        id=user, name="A", version=1))).to_cloudevent("/kam/team-svc")
    assert "kam.account.created.v1" in foreign_event(TOPIC, account)
    assert foreign_event("kam.team.events.some-test", user_change(user, 1, "x", source="/t")) is None


async def test_the_version_guard_refuses_a_jump_only_while_an_event_is_applied(replica_db):
    _, tables, db = replica_db
    users, user = tables.user_replica, uuid.uuid4()

    def row(version: int) -> dict:
        return dict(id=user, email="g@x.test", name=f"v{version}", role="rep", superior_id=None, active=True,
                    version=version)

    async with db.session() as session, session.begin():
        with version_jump_guard(100):
            assert await upsert_versioned(session, users, row(1))
            assert await upsert_versioned(session, users, row(101))  # exactly the limit ahead: fine
            with pytest.raises(ImplausibleVersion, match="version 10000 jumps more than 100 ahead"):
                await upsert_versioned(session, users, row(10_000))
            with pytest.raises(ImplausibleVersion, match="never seen"):
                await upsert_versioned(session, users, {**row(500), "id": uuid.uuid4()})
        assert await upsert_versioned(session, users, row(10_000))  # not guarded: an owner's HTTP answer


async def _dead_letters(bootstrap: str, key: bytes, want: int, timeout: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(TOPIC + ".dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < want:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    got.extend(m for m in msgs if m.key == key)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return got


async def test_forged_and_implausible_events_go_to_the_dlq_with_the_reason(broker, replica_db):
    url, tables, db = replica_db
    settings = ServiceSettings(database_url=url, service_name=f"forged-test-{uuid.uuid4().hex[:6]}",
                               kafka_bootstrap_servers=broker.bootstrap, kafka_idempotence=False,
                               consumer_max_attempts=2, consumer_max_version_jump=1000)
    runner = ConsumerRunner(settings, db, tables, user_replica_handlers(tables))
    assert runner.topics == [TOPIC]
    victim, attacker, boss = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    forged_source = user_change(attacker, 2, "forged", superior=boss, source="/kam/account-svc")
    pinned = user_change(attacker, 10_000, "pinned", superior=boss)
    events = [user_change(victim, 1, "victim"), user_change(attacker, 1, "attacker"), forged_source, pinned,
              user_change(attacker, 2, "real move", superior=victim)]
    key = uuid.uuid4().hex.encode()  # one key: one partition, in this order
    await ensure_topics(settings, [TOPIC])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(TOPIC, event.model_dump_json().encode(), key=key)
    finally:
        await producer.stop()

    async def attacker_row():
        async with db.session() as session:
            return (await session.execute(select(tables.user_replica).where(
                tables.user_replica.c.id == attacker))).mappings().first()

    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(60):
            while (row := await attacker_row()) is None or row["version"] < 2:
                await asyncio.sleep(0.05)
        dead = await _dead_letters(broker.bootstrap, key, want=2)
    finally:
        await runner.stop()
        task.cancel()
    row = await attacker_row()
    assert (row["name"], row["version"], row["superior_id"]) == ("real move", 2, victim)
    by_id = {json.loads(m.value)["id"]: dict(m.headers)["kam-dlq-reason"].decode() for m in dead}
    assert len(dead) == 2, by_id
    assert "is not kam.team.events's owner (/kam/team-svc)" in by_id[forged_source.id]
    assert "version 10000 jumps more than 1000 ahead" in by_id[pinned.id]
