"""The test brokers themselves (kam_shared.devstack): what the rest of the suite relies on them for.

The `broker` fixture is the one KAM_TEST_BROKER picks, so these run on whichever it is; the
crash-and-restart test needs Apache Kafka (Tansu keeps nothing across a restart) and makes its own.
"""
import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from kam_shared import devstack
from kam_shared.broker import ensure_topics, make_producer
from kam_shared.devstack import PRODUCTION_FETCH_MAX_WAIT_MS, KafkaBroker, Stack, TansuBroker, test_broker_kind
from kam_shared.settings import ServiceSettings


def _settings(broker, **extra) -> ServiceSettings:
    """A service's settings against this broker, with the producer settings the stack gives it."""
    env = broker.client_env()
    return ServiceSettings(service_name="broker-test", kafka_bootstrap_servers=broker.bootstrap,
                           kafka_idempotence=env["KAFKA_IDEMPOTENCE"] == "true", **extra)


async def _partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()


async def _publish(settings: ServiceSettings, topic: str, n: int) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, value=b"%d" % i, key=b"one-key")
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, n: int, timeout: float = 30) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < n:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(m.value for m in msgs)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return got


async def test_topic_creation_tolerates_an_existing_topic_and_keeps_the_partition_count(broker, monkeypatch):
    settings = _settings(broker, kafka_topic_partitions=6)
    topic = f"kam.test.ensure-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    await ensure_topics(settings, [topic])  # a second start-up: the topic is listed, nothing to do
    # Two replicas racing: both saw no topic, both create it. Kafka answers TOPIC_ALREADY_EXISTS
    # to the loser, Tansu says nothing; neither may fail the start-up.
    monkeypatch.setattr(AIOKafkaAdminClient, "list_topics", lambda self: _no_topics())
    await ensure_topics(settings, [topic])
    assert await _partitions(broker.bootstrap, topic) == 6


async def _no_topics() -> list[str]:
    return []


async def test_a_topic_with_fewer_partitions_gets_its_count_back_and_nothing_is_auto_created(broker):
    """A topic that came back with the broker's default count (auto-created, or re-created by hand)
    is raised to the configured count when its publisher connects; a producer creates no topic."""
    if broker.kind != "kafka":
        pytest.skip("Tansu cannot add partitions (no CreatePartitions API)")
    topic = f"kam.test.shrunk-{uuid.uuid4().hex[:8]}"
    await ensure_topics(_settings(broker, kafka_topic_partitions=2), [topic])
    assert await _partitions(broker.bootstrap, topic) == 2
    assert await ensure_topics(_settings(broker, kafka_topic_partitions=6), [topic]) == []  # not created...
    assert await _partitions(broker.bootstrap, topic) == 6  # ...but restored
    # The test Kafka runs without auto-creation, as production does: publishing to an unknown topic fails.
    producer = make_producer(_settings(broker), request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - aiokafka times out waiting for the topic's metadata
            await asyncio.wait_for(producer.send_and_wait(f"kam.test.nobody-{uuid.uuid4().hex[:8]}", b"x"), 30)
    finally:
        await producer.stop()


async def test_the_services_producer_settings_work_on_this_broker(broker):
    """acks=all always; idempotence on against Kafka, off against Tansu (which has none)."""
    settings = _settings(broker, kafka_topic_partitions=1)
    assert settings.kafka_idempotence is (broker.kind == "kafka")
    topic = f"kam.test.produce-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    await _publish(settings, topic, 20)
    assert await _read_all(broker.bootstrap, topic, 20) == [b"%d" % i for i in range(20)]


def test_kafka_keeps_acknowledged_messages_across_a_sigkill_and_restart(tmp_path):
    if test_broker_kind() != "kafka":
        pytest.skip("needs Apache Kafka (KAM_TEST_BROKER=kafka); Tansu keeps data in memory only")
    kafka = KafkaBroker(log_path=tmp_path / "kafka.log", data_dir=tmp_path / "kafka")
    try:
        kafka.start()
        bootstrap = kafka.bootstrap
        settings = _settings(kafka, kafka_topic_partitions=3)
        topic = "kam.test.durable"
        asyncio.run(ensure_topics(settings, [topic]))
        asyncio.run(_publish(settings, topic, 50))
        kafka.kill()
        assert not kafka.running
        kafka.start()  # same ports, same data directory
        assert kafka.bootstrap == bootstrap
        assert asyncio.run(_read_all(bootstrap, topic, 50)) == [b"%d" % i for i in range(50)]
        assert asyncio.run(_partitions(bootstrap, topic)) == 3
    finally:
        kafka.stop(remove_data=True)
    assert not (tmp_path / "kafka").exists()


def test_the_stack_gives_services_the_client_settings_of_the_broker_it_started(monkeypatch):
    monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS", raising=False)
    stack = Stack(database_urls={"team-svc": "sqlite+aiosqlite://"}, ports={"team-svc": 1, "account-svc": 2,
                  "opportunity-svc": 3, "forecast-svc": 4})
    stack.bootstrap = "127.0.0.1:9"
    stack.broker = KafkaBroker(port=9)
    env = stack.env_for("team-svc")
    # Against Apache Kafka the stack runs production's wait: long enough not to spin idle, short
    # enough that a fetch held to its end under load (settings.py) costs at most half a second.
    assert env["KAFKA_IDEMPOTENCE"] == "true" and env["KAFKA_FETCH_MAX_WAIT_MS"] == PRODUCTION_FETCH_MAX_WAIT_MS
    assert 200 < int(PRODUCTION_FETCH_MAX_WAIT_MS) <= 500
    # A caller's wait (a benchmark comparing waits) is the one the services get.
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "2000")
    assert stack.env_for("team-svc")["KAFKA_FETCH_MAX_WAIT_MS"] == "2000"
    monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS")
    stack.broker = TansuBroker(port=9)
    env = stack.env_for("team-svc")
    assert env["KAFKA_IDEMPOTENCE"] == "false" and env["KAFKA_FETCH_MAX_WAIT_MS"] == "5"


def test_kafka_broker_configuration_is_a_single_loopback_kraft_node(tmp_path):
    props = dict(line.split("=", 1) for line in
                 KafkaBroker(port=19092, controller_port=19093, data_dir=tmp_path).server_properties().splitlines())
    assert props["process.roles"] == "broker,controller" and props["node.id"] == "1"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == props["transaction.state.log.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1" and props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"] == str(tmp_path / "data")


def test_kafka_falls_back_to_tansu_with_a_notice_when_java_is_missing(monkeypatch, capsys):
    monkeypatch.setenv("KAM_TEST_BROKER", "kafka")
    monkeypatch.setattr(devstack.shutil, "which", lambda name: None)
    assert test_broker_kind() == "tansu"
    assert "using Tansu instead" in capsys.readouterr().err
    monkeypatch.setenv("KAM_TEST_BROKER", "tansu")
    assert test_broker_kind() == "tansu"
    monkeypatch.setenv("KAM_TEST_BROKER", "zookeeper")
    with pytest.raises(ValueError):
        test_broker_kind()
