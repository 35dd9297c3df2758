"""Consumer runner: one consumer group per service, idempotent handling, commit after the DB.

For each message: parse the CloudEvent, then in one DB transaction check the inbox (skip an
event already processed), run the handler, record the event id in the inbox; only after
that transaction commits is the Kafka offset committed. A redelivery after a crash or a
rebalance is therefore harmless. A message that cannot be parsed, or whose handler keeps
failing, goes to `<topic>.dlq` with the reason in a header and a log line; the consumer moves on.
"""
from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from pydantic import ValidationError, create_model
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .broker import ensure_topics, make_consumer, make_producer
from .db import Database
from .events import CATALOGUE, CloudEvent, dlq_topic, parse_payload, utcnow
from .observability import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from .settings import ServiceSettings
from .tables import PlumbingTables

log = logging.getLogger("kam.consumer")

Handler = Callable[[AsyncSession, CloudEvent, object], Awaitable[None]]


def batch_handler(apply_many: Callable[[AsyncSession, list[tuple[CloudEvent, object]]], Awaitable[None]]) -> Handler:
    """A handler that can also apply a run of events in one go (`apply_many`), for throughput:
    the runner hands it consecutive events of a partition batch inside one transaction."""
    async def one(session: AsyncSession, event: CloudEvent, payload) -> None:
        await apply_many(session, [(event, payload)])

    one.apply_many = apply_many  # type: ignore[attr-defined]
    return one


class PoisonMessage(Exception):
    """The message can never be handled (malformed, or violates the event contract)."""


def read_model_lock_key(group_id: str) -> int:
    return zlib.crc32(f"kam.read-models.{group_id}".encode()) & 0x7FFFFFFF


async def exclusive_read_model_lock(session: AsyncSession, group_id: str) -> None:
    """Wait for in-flight event transactions of every replica to finish and hold new ones off
    until this transaction ends (a read-model rebuild)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": read_model_lock_key(group_id)})


_TYPED_ENVELOPES: dict[str, type[CloudEvent]] = {}


def _typed_envelope(event_type: str) -> type[CloudEvent]:
    """A CloudEvent whose `data` is the event type's payload model, to validate both at once."""
    model = _TYPED_ENVELOPES.get(event_type)
    if model is None:
        spec = CATALOGUE[event_type]
        model = create_model(f"CloudEvent_{spec.model.__name__}", __base__=CloudEvent, data=(spec.model, ...))
        _TYPED_ENVELOPES[event_type] = model
    return model


def _ce_type(msg) -> str | None:
    for name, value in msg.headers or ():
        if name == "ce_type":
            return value.decode("utf-8", "replace")
    return None


# The consumer group whose event transaction is running in this task: a handler that must hold
# the read-model lock exclusively (forecast-svc's hierarchy moves) takes the very key its
# transaction holds shared, whatever the group is named.
_applying_for: ContextVar[str | None] = ContextVar("kam_applying_for", default=None)


async def hold_read_model_exclusively(session: AsyncSession) -> None:
    """From inside an event handler: wait for every other event transaction of the group (on any
    replica) to finish, and hold new ones off until this one commits."""
    group = _applying_for.get()
    if group is None:
        raise RuntimeError("hold_read_model_exclusively is for event handlers run by a ConsumerRunner")
    await exclusive_read_model_lock(session, group)


def is_stale(current_version: int | None, sequence: int) -> bool:
    """Per-aggregate sequence guard: an event older than (or equal to) what we hold is ignored."""
    return current_version is not None and sequence <= current_version


class ConsumerRunner:
    def __init__(self, settings: ServiceSettings, db: Database, tables: PlumbingTables,
                 handlers: dict[str, Handler], *, group_id: str | None = None,
                 after_commit: Callable[[list[CloudEvent]], None] | None = None):
        """Every handler transaction takes `read_model_lock` in shared mode (PostgreSQL), so an
        exclusive holder (`exclusive_read_model_lock`, e.g. a rebuild) sees no event half-applied
        on any replica of the service."""
        self.settings = settings
        self.db = db
        self.tables = tables
        self.handlers = handlers
        self.group_id = group_id or settings.service_name
        self.topics = sorted({CATALOGUE[t].topic for t in handlers})
        self.after_commit = after_commit
        self._consumer = None
        self._dlq_producer = None
        self._stopping = False
        self.broker_ok = False
        self.assigned = False

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await ensure_topics(self.settings, self.topics + [dlq_topic(t) for t in self.topics])
                self._consumer = make_consumer(self.settings, *self.topics, group_id=self.group_id,
                                               max_poll_records=500)
                await self._consumer.start()
                self.broker_ok = True
                backoff = 0.2
                await self._poll_loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.broker_ok = False
                log.warning("consumer %s cannot read yet (%s: %s); retrying in %.1fs",
                            self.group_id, type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await self._close()

    async def _close(self) -> None:
        for client in (self._consumer, self._dlq_producer):
            if client is not None:
                try:
                    await client.stop()
                except Exception:
                    pass
        self._consumer = None
        self._dlq_producer = None

    async def _poll_loop(self) -> None:
        consumer = self._consumer
        while not self._stopping:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            self.assigned = bool(consumer.assignment())
            batches = {tp: messages for tp, messages in batches.items() if messages}
            if not batches:
                continue
            # Every partition's messages of this poll in one transaction: under a steady trickle
            # each partition brings one or two events, and a transaction per partition would cap
            # the rate at what six small commits cost. Per-key order holds: a key has one partition.
            handled = await self._handle_batch([m for messages in batches.values() for m in messages])
            # The DB transactions above are committed; now the offsets may be.
            await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batches.items()})
            if handled and self.after_commit:
                self.after_commit(handled)

    async def _handle_batch(self, messages) -> list[CloudEvent]:
        """Apply a poll's batch in one transaction (the fast path under load); if anything in
        it fails, fall back to one transaction per message, with retries and the DLQ."""
        wanted: list[tuple[object, CloudEvent, object]] = []
        for msg in messages:
            declared = _ce_type(msg)
            if declared is not None and declared not in self.handlers and declared in CATALOGUE:
                continue  # the ce_type header names another service's event: no need to parse it
            if declared is not None and declared in self.handlers:
                typed = _typed_envelope(declared)
                try:  # envelope and payload in one pass over the JSON
                    event = typed.model_validate_json(msg.value) if msg.value is not None else None
                except ValidationError:
                    event = None  # the two-step path below says exactly what is wrong
                if event is not None and event.type == declared:
                    wanted.append((msg, event, event.data))
                    continue
            try:
                event = self._parse(msg.value)
            except PoisonMessage as exc:
                await self._dead_letter(msg, str(exc))
                continue
            if event.type not in self.handlers:
                if event.type not in CATALOGUE:  # not in the topic's contract: say so, keep going
                    await self._dead_letter(msg, f"unknown event type {event.type!r} (not in the event catalogue)",
                                            event)
                continue  # another service's event on a shared topic
            try:
                wanted.append((msg, event, parse_payload(event)))
            except ValidationError as exc:
                await self._dead_letter(msg, f"{event.type} payload invalid: {str(exc)[:300]}", event)
        if not wanted:
            return []
        if len(wanted) > 1:
            try:
                return await self._apply_together([(e, p) for _, e, p in wanted])
            except Exception as exc:  # one bad event must not block the rest: go one by one
                log.warning("batch of %d failed (%s: %s); applying one by one", len(wanted), type(exc).__name__, exc)
        handled = []
        for msg, event, _ in wanted:
            if await self._retry(msg, event):
                handled.append(event)
        return handled

    async def _apply_together(self, items: list[tuple[CloudEvent, object]]) -> list[CloudEvent]:
        applied: list[CloudEvent] = []
        async with self.db.session() as session, session.begin():
            await self._share_read_model_lock(session)
            # Claim the batch's event ids in the inbox first: the unique key says which are new, in
            # one statement, whatever the planner knows (a look-up with IN ($1..$500) becomes a
            # linear scan per row once PostgreSQL switches a prepared statement to a generic plan).
            now = utcnow()
            unique = list({e.id: (e, p) for e, p in items}.values())
            claimed = await self._claim(session, [e.id for e, _ in unique], [e.type for e, _ in unique], now)
            fresh: list[tuple[CloudEvent, object]] = []
            for event, payload in items:
                if event.id in claimed:
                    claimed.discard(event.id)  # a duplicate later in the batch is not fresh
                    fresh.append((event, payload))
            i = 0
            while i < len(fresh):
                handler = self.handlers[fresh[i][0].type]
                many = getattr(handler, "apply_many", None)
                if many is None:
                    await handler(session, *fresh[i])
                    i += 1
                    continue
                # A batch-capable handler gets the whole run of consecutive events it handles.
                j = i
                while j < len(fresh) and self.handlers[fresh[j][0].type] is handler:
                    j += 1
                await many(session, fresh[i:j])
                i = j
            applied = [e for e, _ in fresh]
            if applied:
                await self._touch_status(session, applied[-1], len(applied))
        for event in applied:
            EVENTS_CONSUMED.labels(self.settings.service_name, event.type).inc()
        return applied

    async def _claim(self, session: AsyncSession, ids: list[str], types: list[str], now) -> set[str]:
        """Insert the ids into the inbox; return those that were not there (the fresh ones)."""
        inbox = self.tables.inbox
        if session.bind.dialect.name == "postgresql":
            # Two arrays, one statement: a 500-row VALUES list costs more to compile in Python
            # than the database needs to apply it.
            return set((await session.scalars(text(f"""
                INSERT INTO {inbox.name} (consumer, event_id, event_type, processed_at)
                SELECT :consumer, i, t, :now FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[])) AS u(i, t)
                ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id"""),
                dict(consumer=self.group_id, now=now, ids=ids, types=types))).all())
        return set((await session.scalars(
            sqlite.insert(inbox).values([dict(consumer=self.group_id, event_id=i, event_type=t, processed_at=now)
                                         for i, t in zip(ids, types)])
            .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.event_id])
            .returning(inbox.c.event_id))).all())

    async def _retry(self, msg, event: CloudEvent) -> CloudEvent | None:
        attempts = self.settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                applied = await self.handle(event)
                EVENTS_CONSUMED.labels(self.settings.service_name, event.type).inc()
                return event if applied else None
            except PoisonMessage as exc:
                await self._dead_letter(msg, str(exc), event)
                return None
            except Exception as exc:
                if attempt == attempts:
                    log.exception("event %s (%s) failed %d times", event.id, event.type, attempts)
                    await self._dead_letter(msg, f"handler failed {attempts} times: {type(exc).__name__}: {exc}", event)
                    return None
                await asyncio.sleep(0.1 * 2 ** attempt)
        return None

    @staticmethod
    def _parse(raw: bytes | None) -> CloudEvent:
        if raw is None:
            raise PoisonMessage("empty message value")
        try:
            return CloudEvent.model_validate_json(raw)  # a third of json.loads + model_validate
        except (ValueError, ValidationError) as exc:
            raise PoisonMessage(f"not a CloudEvent: {str(exc).splitlines()[0][:300]}") from None

    async def handle(self, event: CloudEvent) -> bool:
        """Apply one event exactly once. Returns False when it had been applied before."""
        try:
            payload = parse_payload(event)
        except ValidationError as exc:
            raise PoisonMessage(f"{event.type} payload invalid: {str(exc)[:300]}") from None
        inbox = self.tables.inbox
        try:
            async with self.db.session() as session, session.begin():
                await self._share_read_model_lock(session)
                seen = await session.scalar(select(inbox.c.event_id).where(
                    inbox.c.consumer == self.group_id, inbox.c.event_id == event.id))
                if seen:
                    return False
                await self.handlers[event.type](session, event, payload)
                await session.execute(insert(inbox).values(consumer=self.group_id, event_id=event.id,
                                                           event_type=event.type, processed_at=utcnow()))
                await self._touch_status(session, event)
        except IntegrityError:
            # Another member of the group applied it concurrently (rebalance); the inbox key said no.
            async with self.db.session() as session:
                if await session.scalar(select(inbox.c.event_id).where(
                        inbox.c.consumer == self.group_id, inbox.c.event_id == event.id)):
                    return False
            raise
        return True

    async def _share_read_model_lock(self, session: AsyncSession) -> None:
        _applying_for.set(self.group_id)
        if not self.db.sqlite:  # SQLite has one writer at a time anyway
            await session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"),
                                  {"k": read_model_lock_key(self.group_id)})

    async def _touch_status(self, session: AsyncSession, event: CloudEvent, count: int = 1) -> None:
        status = self.tables.read_model_status
        now = utcnow()
        result = await session.execute(update(status).where(status.c.name == self.group_id).values(
            last_event_time=event.time, last_applied_at=now, events_applied=status.c.events_applied + count))
        if result.rowcount == 0:
            await session.execute(insert(status).values(name=self.group_id, last_event_time=event.time,
                                                        last_applied_at=now, events_applied=count))

    async def _dead_letter(self, msg, reason: str, event: CloudEvent | None = None) -> None:
        topic = dlq_topic(msg.topic)
        log.error("dead-lettering message %s[%d]@%d to %s: %s", msg.topic, msg.partition, msg.offset, topic, reason)
        EVENTS_DEAD_LETTERED.labels(self.settings.service_name, msg.topic).inc()
        if self._dlq_producer is None:
            self._dlq_producer = make_producer(self.settings)
            await self._dlq_producer.start()
        headers = [("kam-dlq-reason", reason.encode()[:1000]), ("kam-dlq-consumer", self.group_id.encode()),
                   ("kam-dlq-origin", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())]
        await self._dlq_producer.send_and_wait(topic, value=msg.value, key=msg.key, headers=headers)

    def partitions(self) -> list[str]:
        """The partitions this instance holds in its group right now ("topic/partition")."""
        if self._consumer is None:
            return []
        return sorted(f"{tp.topic}/{tp.partition}" for tp in self._consumer.assignment())

    async def stop(self) -> None:
        self._stopping = True

