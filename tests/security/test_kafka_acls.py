"""Kafka locked down (issue 13, item 5) on a real Apache Kafka with SASL/SCRAM and ACLs enforced.

The test broker (kam_shared.devstack.KafkaBroker(sasl=True)) gets the users and ACLs of
kam_shared.kafka_acls, the same table deploy/kafka/acls.sh and the Strimzi KafkaUsers are generated
from, set through its loopback super-user listener (as deploy/kafka/compose-kafka.sh does). Then each
service's own credentials, through the services' own client factory (kam_shared.broker with
KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT), may create and write their own topic and read what they
consume, and are refused another service's topic: nobody can forge a kam.team.events move.
"""
import asyncio
import uuid

import pytest
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from kam_shared.broker import ensure_topics, make_consumer, make_producer
from kam_shared.devstack import VAR, KafkaBroker, kafka_unavailable_reason
from kam_shared.kafka_acls import own_topic, service_acls
from kam_shared.services import SERVICES
from kam_shared.settings import ServiceSettings

pytestmark = pytest.mark.skipif(bool(kafka_unavailable_reason()), reason=kafka_unavailable_reason() or "")

PASSWORDS = {name: f"pw-{uuid.uuid4().hex}" for name in SERVICES}


def _apply_users_and_acls(bootstrap: str) -> None:
    """What deploy/kafka/acls.sh does, through the admin API (confluent-kafka) on the super-user listener."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    upserts = [UserScramCredentialUpsertion(name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                            PASSWORDS[name].encode()) for name in SERVICES]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=60)
    operation = {"Write": AclOperation.WRITE, "Read": AclOperation.READ, "Describe": AclOperation.DESCRIBE,
                 "Create": AclOperation.CREATE, "Alter": AclOperation.ALTER,
                 "DescribeConfigs": AclOperation.DESCRIBE_CONFIGS, "IdempotentWrite": AclOperation.IDEMPOTENT_WRITE}
    resource = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
    bindings = [AclBinding(resource[acl.resource], acl.name, ResourcePatternType.LITERAL, f"User:{name}", "*",
                           operation[op], AclPermissionType.ALLOW)
                for name, info in SERVICES.items() for acl in service_acls(info) for op in acl.operations]
    for future in admin.create_acls(bindings).values():
        future.result(timeout=60)


@pytest.fixture(scope="module")
def secure_kafka():
    broker = KafkaBroker(sasl=True, heap="384m", log_path=VAR / "log" / "test-broker-kafka-sasl.log")
    broker.start()
    try:
        _apply_users_and_acls(broker.bootstrap)
        yield broker
    finally:
        broker.stop()


def settings_of(broker: KafkaBroker, service: str, password: str | None = None) -> ServiceSettings:
    return ServiceSettings(service_name=service, kafka_bootstrap_servers=broker.sasl_bootstrap,
                           kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
                           kafka_sasl_username=service, kafka_sasl_password=password or PASSWORDS[service],
                           kafka_call_timeout_s=20)


async def _send(settings: ServiceSettings, topic: str) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 30)
    finally:
        await producer.stop()


async def test_a_service_writes_its_own_topic_and_cannot_write_another_services(secure_kafka):
    team, account = settings_of(secure_kafka, "team-svc"), settings_of(secure_kafka, "account-svc")
    # Each creates its own topic at start-up, as the relay does (Create + Describe on it).
    await ensure_topics(team, [own_topic(SERVICES["team-svc"])])
    await ensure_topics(account, [own_topic(SERVICES["account-svc"])])
    await _send(team, "kam.team.events")
    await _send(account, "kam.account.events")
    # account-svc's credentials cannot forge a team move (the attack), nor create a topic.
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(account, "kam.team.events")
    with pytest.raises((TopicAuthorizationFailedError, KafkaError)):
        await ensure_topics(account, ["kam.forecast.events"])
    # A wrong password is no way in either.
    with pytest.raises(KafkaError):
        await _send(settings_of(secure_kafka, "team-svc", password="guessed-password"), "kam.team.events")


async def test_a_service_reads_what_it_consumes_and_nothing_else(secure_kafka):
    team, account = settings_of(secure_kafka, "team-svc"), settings_of(secure_kafka, "account-svc")
    await ensure_topics(team, ["kam.team.events"])
    await ensure_topics(settings_of(secure_kafka, "forecast-svc"), ["kam.forecast.events"])
    await _send(team, "kam.team.events")

    async def first_message(settings: ServiceSettings, topic: str):
        consumer = make_consumer(settings, topic, group_id=settings.service_name)
        await consumer.start()
        try:
            return await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()

    assert (await first_message(account, "kam.team.events")).value == b"{}"  # account-svc consumes it
    with pytest.raises((TopicAuthorizationFailedError, KafkaError)):  # nobody consumes forecast's
        await first_message(account, "kam.forecast.events")
