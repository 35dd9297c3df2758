"""Kafka client construction and topic administration, one place for every service.

Topics are never created by a producer: each service checks the topics it writes (its own topic,
and the dead-letter topics of the topics it consumes) when it connects and after every reconnect,
creating a missing one with `kafka_topic_partitions` partitions and raising a smaller partition
count back to it (`ensure_topics`). A service that reads another service's topic waits until that
topic exists (`missing_topics`) instead of creating it with whatever defaults it would guess.
"""
from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import IncompatibleBrokerVersion, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context

from .settings import ServiceSettings

log = logging.getLogger("kam.broker")


def security_kwargs(settings: ServiceSettings) -> dict:
    """The authentication every client of the service uses (producer, consumers, admin, the broker
    watch): nothing for PLAINTEXT; TLS with the configured CA for SSL/SASL_SSL; SASL (SCRAM) with the
    service's own user for SASL_*. A SASL protocol without a username fails here, at start-up."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    kwargs: dict = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile or None)
    if protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or not settings.kafka_sasl_password:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        kwargs.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=settings.kafka_sasl_password)
    return kwargs


def make_producer(settings: ServiceSettings, **overrides) -> AIOKafkaProducer:
    # acks="all" always: aiokafka's default (1) can lose an acknowledged event on leader failover.
    kwargs = dict(
        **security_kwargs(settings),
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
        **security_kwargs(settings),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        client_id=settings.service_name,
        # (request_timeout_ms stays aiokafka's 40 s: a JoinGroup is answered only when the rebalance
        # ends. The consume loop bounds its own awaits instead.)
        # A topic that is re-created (or whose partitions grow) is noticed within seconds, not the
        # client default of five minutes.
        metadata_max_age_ms=5000,
    )
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


def make_admin(settings: ServiceSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**security_kwargs(settings), bootstrap_servers=settings.kafka_bootstrap_servers,
                               client_id=f"{settings.service_name}-admin",
                               request_timeout_ms=int(settings.kafka_call_timeout_s * 1000))


async def bounded(settings: ServiceSettings, awaitable, what: str, *, connect: bool = False):
    """Every await on the broker has a deadline (`kafka_call_timeout_s`): a client call that the
    broker never answers raises KafkaTimeoutError naming the call, and the caller's loop goes on.
    Connecting (`connect`) gets three times as long: a client's start waits for the metadata of its
    topics, which takes Tansu about five seconds on its own.

    Not asyncio.wait_for: it waits for the cancelled call to finish, and aiokafka's calls against a
    broker that is gone (a consumer's stop() leaving its group, above all) can take minutes to; the
    call is cancelled and left behind instead."""
    timeout = settings.kafka_call_timeout_s * (3 if connect else 1)
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        raise KafkaTimeoutError(f"{what}: no answer from the broker in {timeout:g}s")
    if task.cancelled():  # cancelled inside the client (a call left behind earlier), not by our caller
        raise KafkaError(f"{what}: cancelled inside the Kafka client")
    return task.result()


async def _close_admin(settings: ServiceSettings, admin: AIOKafkaAdminClient) -> None:
    try:
        await bounded(settings, admin.close(), "admin close")
    except KafkaError:  # the broker went away meanwhile: nothing more to release
        pass


def _forget(task: asyncio.Future) -> None:
    """A call left behind by `bounded`: its outcome is read so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()


async def missing_topics(settings: ServiceSettings, topics: list[str]) -> list[str]:
    """The topics of the list the broker does not know (now)."""
    admin = make_admin(settings)
    await bounded(settings, admin.start(), "admin connect", connect=True)
    try:
        existing = set(await bounded(settings, admin.list_topics(), "list topics"))
    finally:
        await _close_admin(settings, admin)
    return [t for t in topics if t not in existing]


async def ensure_topics(settings: ServiceSettings, topics: list[str]) -> list[str]:
    """Create the missing topics with `kafka_topic_partitions` partitions and raise a smaller
    partition count to it (a topic auto-created with the broker's default, or re-created after the
    broker lost it). Returns the topics it created. Tansu accepts a duplicate silently; Kafka
    answers TOPIC_ALREADY_EXISTS (another replica won the race) in the response's topic_errors, which
    aiokafka returns rather than raises: that one is fine, any other error is raised."""
    admin = make_admin(settings)
    await bounded(settings, admin.start(), "admin connect", connect=True)
    try:
        existing = set(await bounded(settings, admin.list_topics(), "list topics"))
        created = []
        for topic in [t for t in topics if t not in existing]:
            if await _create_topic(settings, admin, topic):
                created.append(topic)
        present = [t for t in topics if t in existing]
        if present:
            await _restore_partitions(settings, admin, present)
        return created
    finally:
        await _close_admin(settings, admin)


async def _create_topic(settings: ServiceSettings, admin: AIOKafkaAdminClient, topic: str) -> bool:
    try:
        response = await bounded(settings, admin.create_topics([NewTopic(
            name=topic, num_partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor)]), f"create topic {topic}")
    except TopicAlreadyExistsError:
        return False
    code = next((err[1] for err in getattr(response, "topic_errors", ()) if err[0] == topic), 0)
    if code == TopicAlreadyExistsError.errno:
        return False
    if code:
        error = for_code(code)
        raise error(f"creating topic {topic}: {error.__name__} ({code})")
    log.info("created topic %s with %d partitions", topic, settings.kafka_topic_partitions)
    return True


async def _restore_partitions(settings: ServiceSettings, admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Raise each topic's partition count to the configured one (never lower: Kafka cannot)."""
    described = await bounded(settings, admin.describe_topics(topics), "describe topics")
    wanted = settings.kafka_topic_partitions
    for entry in described:
        name, count = entry["topic"], len(entry.get("partitions") or ())
        if entry.get("error_code") or count >= wanted or count == 0:
            continue
        log.warning("topic %s has %d partitions, %d wanted: adding %d", name, count, wanted, wanted - count)
        try:
            await bounded(settings, admin.create_partitions({name: NewPartitions(total_count=wanted)}),
                          f"add partitions to {name}")
        except (IncompatibleBrokerVersion, KafkaError) as exc:  # Tansu has no CreatePartitions
            log.warning("cannot add partitions to %s (%s: %s)", name, type(exc).__name__, exc)


async def read_topic(settings: ServiceSettings, topic: str, batch_ms: int = 1000) -> list:
    """Every message the broker still holds on `topic`, from each partition's beginning up to its
    end when the call starts (no consumer group: nothing is committed, no other reader is
    disturbed). For rebuilding history that only the event stream holds. Returns the messages
    (aiokafka ConsumerRecord) in partition order, each partition in offset order."""
    consumer = make_consumer(settings, group_id=None, client_id=f"{settings.service_name}-replay")
    await bounded(settings, consumer.start(), f"replay {topic}: connect", connect=True)
    try:
        # The cluster's metadata itself: the consumer's own view (partitions_for_topic) lists only
        # the topics it subscribed to, and this one subscribes to none (Apache Kafka answers None).
        cluster = await bounded(settings, consumer._client.fetch_all_metadata(), f"replay {topic}: metadata")
        tps = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        await bounded(settings, consumer.seek_to_beginning(*tps), f"replay {topic}: seek")
        ends = await bounded(settings, consumer.end_offsets(tps), f"replay {topic}: end offsets")
        out, left = [], {tp for tp in tps if ends[tp] > 0}
        for tp in tps:
            if tp in left and await bounded(settings, consumer.position(tp), "replay position") >= ends[tp]:
                left.discard(tp)
        while left:
            batch = await bounded(settings, consumer.getmany(*left, timeout_ms=batch_ms), f"replay {topic}: fetch")
            for tp, messages in batch.items():
                out.extend(m for m in messages if m.offset < ends[tp])
                if messages and messages[-1].offset >= ends[tp] - 1:
                    left.discard(tp)
            for tp in list(left):
                if await bounded(settings, consumer.position(tp), "replay position") >= ends[tp]:
                    left.discard(tp)
        return out
    finally:
        try:
            await bounded(settings, consumer.stop(), f"replay {topic}: close")
        except KafkaError:
            pass
