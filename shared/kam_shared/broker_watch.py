"""The outbox relay's watch on the broker: does it still hold what the relay published, and which
of it has every consumer group confirmed?

Tansu (the `make run` broker) keeps everything in memory: after a restart its topics, their
messages and the groups' committed offsets are gone, and it still accepts writes to the topics it
forgot. Events published but not yet consumed would be lost. The relay therefore REPUBLISHES FROM
THE OUTBOX what the consumers had not confirmed when the broker comes back empty:

* confirmed: at each check (every `broker_check_interval_s`) the watch reads the highest sent outbox
  id, then the end offset of every partition of the service's topic and each known consumer group's
  committed offset there (the groups that read the topic, `kam_shared.services`). When every group
  has committed up to the end of every partition, every row sent before the check is confirmed:
  `confirmed_through` becomes that id. It only moves forward.
* lost: the topic the relay published to is gone from the broker's metadata (it was there at the
  previous check), or a partition now ends earlier than it did at a previous check and below an
  offset the relay was acknowledged at.
* then: the topic is created again (with its partition count) and the rows sent after
  `confirmed_through` get `sent_at` cleared, so the relay publishes them again in id order. Consumers
  deduplicate by event id (inbox) and ignore what is older than they hold (sequence), so a row sent
  twice does no harm. A relay that has not yet seen the groups caught up (just started) republishes
  every sent row it still keeps (sent rows are purged after 7 days).

On Apache Kafka nothing is ever lost this way (acks=all on disk), so the watch only costs a few
metadata requests per check.
"""
from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from .broker import bounded, make_admin, security_kwargs
from .services import SERVICES
from .settings import ServiceSettings

log = logging.getLogger("kam.outbox")


class BrokerWatch:
    def __init__(self, settings: ServiceSettings, topic: str):
        self.settings = settings
        self.topic = topic
        self.groups = sorted(s.name for s in SERVICES.values() if topic in s.consumes)
        self._admin = None
        self._readers: dict[str | None, AIOKafkaConsumer] = {}
        self._topic_seen = False
        # (partition → highest offset the broker acknowledged to this relay) since the last reset.
        self.acknowledged: dict[int, int] = {}
        self._ends_seen: dict[int, int] = {}
        self.confirmed_through: int | None = None

    def note_sent(self, partition: int, offset: int) -> None:
        if offset > self.acknowledged.get(partition, -1):
            self.acknowledged[partition] = offset

    async def _reader(self, group: str | None) -> AIOKafkaConsumer:
        reader = self._readers.get(group)
        if reader is None:
            reader = AIOKafkaConsumer(**security_kwargs(self.settings),
                                      bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=group,
                                      enable_auto_commit=False, client_id=f"{self.settings.service_name}-watch",
                                      request_timeout_ms=int(self.settings.kafka_call_timeout_s * 1000))
            await bounded(self.settings, reader.start(), "watch connect", connect=True)
            self._readers[group] = reader
        return reader

    async def check(self, max_sent_id: int | None) -> str | None:
        """One look at the broker. Returns why it lost what it held (a reason to republish), or None.
        `max_sent_id`: the highest sent outbox id, read before this check."""
        if self._admin is None:
            self._admin = make_admin(self.settings)
            await bounded(self.settings, self._admin.start(), "admin connect", connect=True)
        topics = set(await bounded(self.settings, self._admin.list_topics(), "list topics"))
        if self.topic not in topics:
            return f"topic {self.topic} is gone" if self._topic_seen else None
        self._topic_seen = True
        reader = await self._reader(None)
        partitions = reader.partitions_for_topic(self.topic)
        if not partitions:
            await bounded(self.settings, reader.topics(), "metadata")
            partitions = reader.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        ends = await bounded(self.settings, reader.end_offsets(tps), "end offsets")
        for tp in tps:
            # Lost: the end went BACK (below an end seen before) and below what the broker
            # acknowledged. Tansu's end offsets trail fresh writes by a few, so "below acknowledged"
            # alone would fire on a healthy broker; a log that was kept never ends earlier than before.
            end, seen = ends.get(tp, 0), self._ends_seen.get(tp.partition, 0)
            acked = self.acknowledged.get(tp.partition)
            self._ends_seen[tp.partition] = max(end, seen)
            if end < seen and acked is not None and end <= acked:
                return (f"{self.topic}/{tp.partition} ends at {end}, below {seen} seen before and offset {acked} "
                        "acknowledged")
        if max_sent_id is not None and await self._all_groups_caught_up(tps, ends):
            if self.confirmed_through is None or max_sent_id > self.confirmed_through:
                self.confirmed_through = max_sent_id
        return None

    async def _all_groups_caught_up(self, tps: list[TopicPartition], ends: dict) -> bool:
        for group in self.groups:
            reader = await self._reader(group)
            for tp in tps:
                if not ends.get(tp):
                    continue
                committed = await bounded(self.settings, reader.committed(tp), f"committed offset of {group}")
                if committed is None or committed < ends[tp]:
                    return False
        return True

    def reset(self) -> None:
        """After a broker lost everything: what it acknowledged no longer counts; the topic is new."""
        self.acknowledged.clear()
        self._ends_seen.clear()
        self._topic_seen = False

    async def close(self) -> None:
        for client in [self._admin, *self._readers.values()]:
            if client is None:
                continue
            try:
                await bounded(self.settings, client.close() if client is self._admin else client.stop(), "close")
            except Exception:  # a broken client: nothing more to release
                pass
        self._admin = None
        self._readers = {}
