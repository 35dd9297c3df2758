"""Transactional outbox: events are rows written in the same transaction as the change;
the relay publishes them in order afterwards.

A broker outage never fails a write: rows wait, the relay backs off and the backlog drains
when the broker returns. With several replicas on PostgreSQL each relay takes the shards of
the outbox it can lock (transaction-scoped advisory locks), so a given key (aggregate) is
only ever published by one relay at a time, in id order.

Parking: a row whose OWN message cannot be published (see `is_row_failure`: the message is too
large for the broker, the broker says the record or its topic name is invalid, or the row cannot
be encoded) gets `attempts` counted and `last_error` recorded; the rest of its shard waits for the
next pass. When `attempts` reaches `outbox_max_attempts` (default 10) the row is PARKED: the relay
skips it, the rest of its shard is published, a warning names the row, its event id and type and
the error, and the gauge `kam_outbox_parked` counts parked rows. `GET /v1/admin/outbox/parked`
lists them and `POST /v1/admin/outbox/parked/retry` puts them back in line (kam_shared.outbox_admin).
Consumers keep the newest state per aggregate (events carry the full state and a sequence), so
an event parked and published later is ignored as stale where a newer one was applied.

Every other failure (the broker unreachable, a timeout, no leader, authorisation, a missing
topic, the database) says nothing about a row: nothing is counted, the pass is rolled back and the
relay backs off, so a broker outage never parks anything; the backlog drains when it returns.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zlib
from collections.abc import Iterable

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from prometheus_client import Gauge
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .audit_state import audit_row
from .broker import bounded, ensure_topics, make_producer
from .broker_watch import BrokerWatch
from .db import Database
from .events import CONTENT_TYPE, EVENT_TYPE_HEADER, TOPICS, DomainEvent, utcnow
from .observability import BROKER_RESETS, OUTBOX_BACKLOG, OUTBOX_PUBLISHED, OUTBOX_REPUBLISHED
from .repository import Repository
from .settings import ServiceSettings
from .tables import OUTBOX_SHARDS, PlumbingTables
from .tracing import event_context

log = logging.getLogger("kam.outbox")
_LOCK_CLASS = 0x6B616D  # arbitrary namespace for pg advisory locks ("kam")
OUTBOX_PARKED = Gauge("kam_outbox_parked", "Outbox rows parked after outbox_max_attempts failures", ["service"])

# What the broker or the client says about ONE message (its size, its record, its topic's name) or
# what fails while encoding it. Only these count as an attempt on the row.
_ROW_FAILURES = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError, CorruptRecordException,
                 InvalidTopicError, UnicodeError)


def is_row_failure(exc: BaseException) -> bool:
    """True when the failure is the row's own (it would fail again with the broker healthy), so it
    counts as an attempt; False for anything that is about the broker, the network or the database
    (connection refused, timeouts, leader changes, authorisation, an unknown topic): those never
    count, or an outage would park every row."""
    return isinstance(exc, _ROW_FAILURES)


def _message(row) -> dict:
    """The Kafka message of an outbox row (encoding may fail: a row failure)."""
    return dict(value=row.payload.encode(), key=row.message_key.encode(),
                headers=[("content-type", CONTENT_TYPE.encode()), (EVENT_TYPE_HEADER, row.event_type.encode())])


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % OUTBOX_SHARDS


OUTBOX_WRITTEN = "kam_outbox_written"


async def add_to_outbox(session: AsyncSession, tables: PlumbingTables, source: str,
                        events: Iterable[DomainEvent]) -> list[str]:
    """The events as outbox rows, and (where the service keeps an audit trail, kam_shared.audit) the
    same events as audit rows, in the caller's transaction: the trail cannot drift from what was
    published, and it outlives the relay's purge of sent rows."""
    rows, audit = [], []
    for event in events:
        ce = event.to_cloudevent(source)
        rows.append(dict(event_id=ce.id, topic=event.topic, message_key=ce.partitionkey,
                         shard=shard_of(ce.partitionkey), event_type=ce.type,
                         payload=ce.model_dump_json(), created_at=utcnow(), attempts=0))
        audit.append(audit_row(ce))
    if rows:
        await session.execute(insert(tables.outbox), rows)
        # Whoever commits this session (a consumer's batch) can tell that the relay has work now.
        session.info[OUTBOX_WRITTEN] = True
        if tables.audit is not None:
            await session.execute(insert(tables.audit), audit)
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
        self._parked_gauge_stale = True  # read the parked count on the first good pass
        self._backlog_sampled_at = 0.0
        # The topic this service publishes to (it creates it; nobody else does), and the watch that
        # notices a broker that lost it (kam_shared.broker_watch).
        self.topic = TOPICS.get(settings.service_name.removesuffix("-svc"))
        self.watch = BrokerWatch(settings, self.topic) if self.topic else None
        self._checked_at = 0.0
        self.republished = 0
        self.may_have_more = False  # set by each drain_once: see run

    def kick(self) -> None:
        """Called after a commit that wrote outbox rows: publish now rather than at the next poll."""
        self._kick.set()

    async def _producer_ready(self):
        if self._producer is None:
            # The service creates its own topic (with its partition count, restored if it shrank)
            # before its producer connects: a producer never relies on broker auto-creation.
            if self.topic:
                await ensure_topics(self.settings, [self.topic])
            producer = make_producer(self.settings)
            try:
                await bounded(self.settings, producer.start(), "producer connect", connect=True)
            except BaseException:
                await self._stop_quietly(producer)
                raise
            self._producer = producer
            self._checked_at = 0.0  # look at the broker again right after a reconnect
        return self._producer

    async def _stop_quietly(self, producer) -> None:
        try:
            await bounded(self.settings, producer.stop(), "close")
        except Exception:  # already broken; nothing more to release
            pass

    async def _drop_producer(self) -> None:
        if self._producer is not None:
            await self._stop_quietly(self._producer)
            self._producer = None
        if self.watch is not None:
            await self.watch.close()

    async def check_broker(self, now: float) -> None:
        """Every `broker_check_interval_s` (and after a reconnect): does the broker still hold what
        this relay published? If it lost it, create the topic again and republish what the consumer
        groups had not confirmed (kam_shared.broker_watch)."""
        if self.watch is None or now - self._checked_at < self.settings.broker_check_interval_s:
            return
        self._checked_at = now
        outbox = self.tables.outbox
        async with self.db.session() as session:
            max_sent = await session.scalar(select(func.max(outbox.c.id)).where(outbox.c.sent_at.is_not(None)))
        lost = await self.watch.check(max_sent)
        if lost is None:
            return
        BROKER_RESETS.labels(self.settings.service_name, "outbox").inc()
        self.watch.reset()
        await ensure_topics(self.settings, [self.topic])
        confirmed = self.watch.confirmed_through
        condition = (outbox.c.topic == self.topic) & outbox.c.sent_at.is_not(None)
        if confirmed is not None:
            condition &= outbox.c.id > confirmed
        async with self.db.session() as session, session.begin():
            count = (await session.execute(update(outbox).where(condition).values(sent_at=None))).rowcount
        self.republished += count
        OUTBOX_REPUBLISHED.labels(self.settings.service_name).inc(count)
        log.warning("broker lost what it held (%s): topic %s created again; %d event(s) sent after outbox id %s, "
                    "not confirmed by every consumer group (%s), are published again", lost, self.topic, count,
                    confirmed if confirmed is not None else "(none confirmed yet: every kept row)",
                    ", ".join(self.watch.groups) or "none")
        self.kick()

    def _waiting(self):
        """Rows the relay publishes: not sent, and not parked."""
        outbox = self.tables.outbox
        return (outbox.c.sent_at.is_(None)) & (outbox.c.attempts < self.settings.outbox_max_attempts)

    def _parked(self):
        outbox = self.tables.outbox
        return (outbox.c.sent_at.is_(None)) & (outbox.c.attempts >= self.settings.outbox_max_attempts)

    async def drain_once(self) -> int:
        """Publish up to one batch from every shard this relay can lock. Returns how many events
        were published. One transaction for all shards: under a steady stream of writes every
        shard has work on every pass, and a transaction per shard made the relay, not the
        broker, the slow part of "accepted → on the topic".

        A row whose own message fails (see `is_row_failure`) gets an attempt counted and its error
        recorded, and the rest of its shard waits for the next pass (per-key order); after
        `outbox_max_attempts` the row is parked and its shard moves on. Any other failure (the
        broker down, a timeout, the database) raises: nothing is counted, the relay backs off."""
        producer = await self._producer_ready()
        self.may_have_more = False
        async with self.db.session() as session:
            async with session.begin():
                rows = await self._claim_rows(session)
                if not rows:
                    return 0
                sent, failed = await self._publish(producer, rows)
                # What this pass could not see or send: a full batch's next rows, or a shard held up
                # by a failing row. Anything committed after its claim has kicked the relay.
                self.may_have_more = len(rows) >= self.settings.outbox_batch_size or bool(failed)
                if sent:
                    ids = [r.id for r in sent]
                    await session.execute(update(self.tables.outbox).where(self.tables.outbox.c.id.in_(ids))
                                          .values(sent_at=utcnow()))
                parked = await self._count_failures(session, failed)
        if parked:
            self._parked_gauge_stale = True
        OUTBOX_PUBLISHED.labels(self.settings.service_name).inc(len(sent))
        return len(sent)

    async def _claim_rows(self, session: AsyncSession) -> list:
        """The next rows to publish, in id order, from the shards this relay may publish."""
        outbox = self.tables.outbox
        query = select(outbox.c.id, outbox.c.event_id, outbox.c.shard, outbox.c.topic, outbox.c.message_key,
                       outbox.c.payload, outbox.c.event_type).where(self._waiting())
        if not self.db.sqlite:
            # The shards with work whose lock we got (another replica holds the rest), in one
            # statement; the locks last until this transaction ends. The rows are read by the next
            # statement, never this one: its snapshot is older than the locks, and could still show
            # as unsent what another relay published and committed just before we got its shard.
            shards = (await session.scalars(text(
                f"SELECT s.shard FROM (SELECT DISTINCT shard FROM {outbox.name} "
                "WHERE sent_at IS NULL AND attempts < :n) AS s WHERE pg_try_advisory_xact_lock(:c, s.shard)"),
                {"c": _LOCK_CLASS, "n": self.settings.outbox_max_attempts})).all()
            if not shards:
                return []
            query = query.where(outbox.c.shard.in_(shards))
        return list((await session.execute(query.order_by(outbox.c.id).limit(self.settings.outbox_batch_size))).all())

    async def _publish(self, producer, rows: list) -> tuple[list, dict[int, tuple[object, Exception]]]:
        """Send the rows pipelined (send() queues in id order, so per key in order). Returns the rows
        on the topic and, per shard, the first row whose own message failed (with the error)."""
        failed: dict[int, tuple[object, Exception]] = {}
        queued = []
        for row in rows:
            if row.shard in failed:
                continue  # the rest of a failing shard waits: its keys stay in order
            try:
                with event_context(row.payload):
                    future = await bounded(self.settings, producer.send(row.topic, **_message(row)), "send")
                queued.append((row, future))
            except Exception as exc:
                if not is_row_failure(exc):
                    raise
                failed[row.shard] = (row, exc)
        results = await bounded(self.settings, asyncio.gather(*(future for _, future in queued),
                                                                return_exceptions=True), "publish")
        sent, rejected = [], []
        for (row, _), result in zip(queued, results, strict=True):
            if not isinstance(result, BaseException):
                sent.append(row)
                if self.watch is not None and row.topic == self.topic:
                    self.watch.note_sent(result.partition, result.offset)
            elif is_row_failure(result):
                rejected.append(row)
            else:
                raise result
        sent += await self._pinpoint(producer, rejected, failed)
        return sent, failed

    async def _pinpoint(self, producer, rejected: list, failed: dict[int, tuple[object, Exception]]) -> list:
        """Rows the broker rejected shared a request with the culprit: send them one at a time, in
        id order, so only the row that fails on its own is counted. Returns those that went."""
        sent = []
        for row in rejected:
            if row.shard in failed and failed[row.shard][0].id < row.id:
                continue
            try:
                with event_context(row.payload):
                    result = await bounded(self.settings, producer.send_and_wait(row.topic, **_message(row)),
                                           "send")
            except Exception as exc:
                if not is_row_failure(exc):
                    raise
                failed[row.shard] = (row, exc)
                continue
            sent.append(row)
            if self.watch is not None and row.topic == self.topic:
                self.watch.note_sent(result.partition, result.offset)
        return sent

    async def _count_failures(self, session: AsyncSession, failed: dict[int, tuple[object, Exception]]) -> int:
        """Count an attempt on each failed row and record its error; returns how many were parked."""
        outbox = self.tables.outbox
        limit = self.settings.outbox_max_attempts
        parked = 0
        for row, exc in failed.values():
            error = f"{type(exc).__name__}: {exc}"[:2000]
            attempts = await session.scalar(update(outbox).where(outbox.c.id == row.id).values(
                attempts=outbox.c.attempts + 1, last_error=error).returning(outbox.c.attempts))
            if attempts >= limit:
                parked += 1
                log.warning("outbox row %d parked after %d attempts (event %s, %s): %s",
                            row.id, attempts, row.event_id, row.event_type, error)
            else:
                log.warning("outbox row %d failed, attempt %d of %d (event %s, %s): %s",
                            row.id, attempts, limit, row.event_id, row.event_type, error)
        return parked

    async def backlog(self) -> int:
        """Rows waiting to be published (parked rows are not waiting: see `parked_count`)."""
        async with self.db.session() as session:
            return int(await session.scalar(
                select(func.count()).select_from(self.tables.outbox).where(self._waiting())))

    async def parked_count(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(
                select(func.count()).select_from(self.tables.outbox).where(self._parked())))

    async def refresh_parked_gauge(self) -> None:
        OUTBOX_PARKED.labels(self.settings.service_name).set(await self.parked_count())
        self._parked_gauge_stale = False

    async def parked(self, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """One page of parked rows, oldest first."""
        outbox = self.tables.outbox
        query = select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.topic, outbox.c.message_key,
                       outbox.c.created_at, outbox.c.attempts, outbox.c.last_error).where(self._parked())
        async with self.db.session() as session:
            return await Repository(session).paginate(query, keys=[outbox.c.id], limit=limit, cursor=cursor)

    async def retry_parked(self, row_id: int | None = None) -> int:
        """Put parked rows (all, or the one with this id) back in line: their attempts start again
        from zero (the last error stays until the next failure). Returns how many."""
        outbox = self.tables.outbox
        condition = self._parked() if row_id is None else self._parked() & (outbox.c.id == row_id)
        async with self.db.session() as session, session.begin():
            count = (await session.execute(update(outbox).where(condition).values(attempts=0))).rowcount
        if count:
            log.info("outbox: %d parked row(s) put back in line%s", count, "" if row_id is None else f" (id {row_id})")
            self.kick()
        await self.refresh_parked_gauge()
        return count

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
                await self.check_broker(loop.time())
                self.broker_ok = True
                self.last_error = None
                backoff = 0.2
                if self._parked_gauge_stale:
                    await self.refresh_parked_gauge()
                if published and self.may_have_more:
                    await self._sample_backlog(loop.time())
                    continue  # go again before sleeping
                # Everything this pass could see is on the broker. No second pass to find that out:
                # a row committed since the claim kicked the relay (the wait below returns at once),
                # and the empty pass cost three round trips per write burst, while the consumers
                # were applying what was just published.
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

    async def _sample_backlog(self, now: float) -> None:
        """While rows flow, the backlog gauge is read at most once a second (a COUNT per pass would
        cost more than the publishing); when a pass finds nothing the gauge is set to 0."""
        if now - self._backlog_sampled_at >= 1.0:
            self._backlog_sampled_at = now
            OUTBOX_BACKLOG.labels(self.settings.service_name).set(await self.backlog())

    async def stop(self) -> None:
        self._stopping = True
        self._kick.set()
        await self._drop_producer()
