"""Transactional outbox: events are rows written in the same transaction as the change;
the relay publishes them in order afterwards.

A broker outage never fails a write: rows wait, the relay backs off and the backlog drains
when the broker returns. With several replicas on PostgreSQL each relay takes the shards of
the outbox it can lock (transaction-scoped advisory locks), so a given key (aggregate) is
only ever published by one relay at a time, in id order.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zlib
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .broker import make_producer
from .db import Database
from .events import DomainEvent, utcnow
from .observability import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from .settings import ServiceSettings
from .tables import OUTBOX_SHARDS, PlumbingTables

log = logging.getLogger("kam.outbox")
_LOCK_CLASS = 0x6B616D  # arbitrary namespace for pg advisory locks ("kam")


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % OUTBOX_SHARDS


async def add_to_outbox(session: AsyncSession, tables: PlumbingTables, source: str,
                        events: Iterable[DomainEvent]) -> list[str]:
    rows = []
    for event in events:
        ce = event.to_cloudevent(source)
        rows.append(dict(event_id=ce.id, topic=event.topic, message_key=ce.partitionkey,
                         shard=shard_of(ce.partitionkey), event_type=ce.type,
                         payload=ce.model_dump_json(), created_at=utcnow(), attempts=0))
    if rows:
        await session.execute(insert(tables.outbox), rows)
    return [r["event_id"] for r in rows]


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, db: Database, tables: PlumbingTables):
        self.settings = settings
        self.db = db
        self.tables = tables
        self._kick = asyncio.Event()
        self._producer = None
        self._stopping = False
        self.broker_ok = False
        self.last_error: str | None = None

    def kick(self) -> None:
        """Called after a commit that wrote outbox rows: publish now rather than at the next poll."""
        self._kick.set()

    async def _producer_ready(self):
        if self._producer is None:
            producer = make_producer(self.settings)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            except Exception:  # already broken; nothing more to release
                pass
            self._producer = None

    async def drain_once(self) -> int:
        """Publish up to one batch from every shard this relay can lock. Returns how many events
        were published. One transaction for all shards: under a steady stream of writes every
        shard has work on every pass, and a transaction per shard made the relay, not the
        broker, the slow part of "accepted → on the topic"."""
        producer = await self._producer_ready()
        outbox = self.tables.outbox
        async with self.db.session() as session:
            async with session.begin():
                query = select(outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.payload,
                               outbox.c.event_type).where(outbox.c.sent_at.is_(None))
                if not self.db.sqlite:
                    # The shards with work whose lock we got (another replica holds the rest), in one
                    # statement; the locks last until this transaction ends.
                    shards = (await session.scalars(text(
                        f"SELECT s.shard FROM (SELECT DISTINCT shard FROM {outbox.name} WHERE sent_at IS NULL) AS s "
                        "WHERE pg_try_advisory_xact_lock(:c, s.shard)"), {"c": _LOCK_CLASS})).all()
                    if not shards:
                        return 0
                    query = query.where(outbox.c.shard.in_(shards))
                rows = (await session.execute(
                    query.order_by(outbox.c.id).limit(self.settings.outbox_batch_size))).all()
                if not rows:
                    return 0
                futures = []
                for row in rows:
                    # send() queues in id order (so per key, in order); awaiting all keeps it pipelined.
                    futures.append(await producer.send(
                        row.topic, value=row.payload.encode(), key=row.message_key.encode(),
                        headers=[("content-type", b"application/cloudevents+json"),
                                 ("ce_type", row.event_type.encode())]))
                await asyncio.gather(*futures)
                ids = [r.id for r in rows]
                await session.execute(update(outbox).where(outbox.c.id.in_(ids)).values(sent_at=utcnow()))
        OUTBOX_PUBLISHED.labels(self.settings.service_name).inc(len(rows))
        return len(rows)

    async def backlog(self) -> int:
        from sqlalchemy import func
        async with self.db.session() as session:
            return int(await session.scalar(
                select(func.count()).select_from(self.tables.outbox).where(self.tables.outbox.c.sent_at.is_(None))))

    async def purge_sent(self, older_than: dt.timedelta = dt.timedelta(days=7)) -> None:
        outbox = self.tables.outbox
        async with self.db.session() as session, session.begin():
            await session.execute(delete(outbox).where(outbox.c.sent_at < utcnow() - older_than))

    async def run(self) -> None:
        backoff = 0.2
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._kick.clear()
            try:
                published = await self.drain_once()
                self.broker_ok = True
                self.last_error = None
                backoff = 0.2
                if published:
                    continue  # there may be more; go again before sleeping
                if loop.time() - last_purge > 3600:
                    last_purge = loop.time()
                    await self.purge_sent()
                OUTBOX_BACKLOG.labels(self.settings.service_name).set(0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker down or DB hiccup: keep rows, back off, retry
                self.broker_ok = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay cannot publish yet (%s); retrying in %.1fs", self.last_error, backoff)
                await self._drop_producer()
                try:
                    OUTBOX_BACKLOG.labels(self.settings.service_name).set(await self.backlog())
                except Exception:
                    pass
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=self.settings.outbox_poll_interval_s)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        await self._drop_producer()
