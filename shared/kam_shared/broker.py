"""Kafka client construction and topic administration, one place for every service."""
from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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
    """Idempotent topic creation. Tansu accepts a duplicate silently; Kafka raises, which we ignore."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                client_id=f"{settings.service_name}-admin", request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        for topic in missing:
            try:
                await admin.create_topics([NewTopic(name=topic, num_partitions=settings.kafka_topic_partitions,
                                                    replication_factor=settings.kafka_replication_factor)])
                log.info("created topic %s", topic)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
