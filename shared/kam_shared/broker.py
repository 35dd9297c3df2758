"""Kafka client construction and topic administration, one place for every service."""
from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from .settings import ServiceSettings

log = logging.getLogger("kam.broker")


def make_producer(settings: ServiceSettings, **overrides) -> AIOKafkaProducer:
    # acks="all" always: aiokafka's default (1) can lose an acknowledged event on leader failover.
    kwargs = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=0,
        request_timeout_ms=10000,
        client_id=settings.service_name,
    )
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


def make_consumer(settings: ServiceSettings, *topics: str, group_id: str | None, **overrides) -> AIOKafkaConsumer:
    kwargs = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        client_id=settings.service_name,
    )
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


async def ensure_topics(settings: ServiceSettings, topics: list[str]) -> None:
    """Idempotent topic creation. Tansu accepts a duplicate silently; Kafka answers
    TOPIC_ALREADY_EXISTS (another replica won the race) in the response's topic_errors, which
    aiokafka returns rather than raises: that one is fine, any other error is raised."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id=f"{settings.service_name}-admin", request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        for topic in missing:
            try:
                response = await admin.create_topics([NewTopic(
                    name=topic, num_partitions=settings.kafka_topic_partitions,
                    replication_factor=settings.kafka_replication_factor)])
            except TopicAlreadyExistsError:
                continue
            code = next((err[1] for err in getattr(response, "topic_errors", ()) if err[0] == topic), 0)
            if code == TopicAlreadyExistsError.errno:
                continue
            if code:
                error = for_code(code)
                raise error(f"creating topic {topic}: {error.__name__} ({code})")
            log.info("created topic %s", topic)
    finally:
        await admin.close()
