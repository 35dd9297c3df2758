"""Consumer runner: one consumer group per service, idempotent handling, commit after the DB.

One path for every message. A poll's batch is decoded (a message that cannot be parsed, or whose
payload breaks the event contract, goes to `<topic>.dlq` at once), then applied in ONE DB
transaction: claim the event ids in the inbox (the ones already there were processed before and
are skipped), run the handlers on the fresh ones, commit. Only after that commit is the Kafka
offset committed, so a redelivery after a crash or a rebalance is harmless.

If the transaction fails, the batch is split in halves and each half applied the same way, down
to the one failing message; that message is retried (`consumer_max_attempts` in all) and then
goes to `<topic>.dlq` with the reason in a header and a log line. The consumer moves on; the other
messages of the batch are applied.

Only the owner speaks on its topic: an event whose `source` is not the topic's owner (`/kam/team-svc`
on `kam.team.events`), or whose type is not one of the owner's (`kam.team.…`), goes to the DLQ with
that reason, unread; so does an event whose version jumps implausibly far ahead of the replica's
(`consumer_max_version_jump`, see kam_shared.replicas). Broker ACLs keep other writers off the topic;
these checks hold even where the ACLs are missing or a credential leaked to the wrong service.

Handlers: a plain `Handler` takes one event; a `BatchHandler` (see `batch_handler`) takes a run
of consecutive events it handles in one call, for throughput.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, runtime_checkable

from pydantic import ValidationError, create_model
from sqlalchemy import insert, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .applied import notify_channel
from .broker import bounded, ensure_topics, make_consumer, make_producer, missing_topics
from .db import Database
from .events import CATALOGUE, EVENT_TYPE_HEADER, CloudEvent, dlq_topic, parse_payload, utcnow
from .observability import (
    BROKER_RESETS,
    CONSUMER_COMMIT_FAILURES,
    CONSUMER_LAG,
    CONSUMER_REBUILDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
)
from .outbox import OUTBOX_WRITTEN
from .replicas import ImplausibleVersion, version_jump_guard
from .services import source_of, topic_owner
from .settings import ServiceSettings
from .tables import PlumbingTables
from .tracing import span_from_traceparent

log = logging.getLogger("kam.consumer")
# How long an idle getmany waits before the loop looks at stop() and the probe again (records end
# the wait at once), and how often the probe asks the broker for the partitions' ends.
POLL_TIMEOUT_MS = 1000
PROBE_INTERVAL_S = 1.0

Handler = Callable[[AsyncSession, CloudEvent, object], Awaitable[None]]
Item = tuple[CloudEvent, object]  # an event and its validated payload


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that applies a run of consecutive events (of the types it is registered for) in
    one call, inside the runner's transaction. It may be called with a single event too."""

    async def apply_many(self, session: AsyncSession, items: list[Item]) -> None: ...


class _Batched:
    """What `batch_handler` makes: a BatchHandler that is also an ordinary one-event Handler."""

    def __init__(self, apply_many: Callable[[AsyncSession, list[Item]], Awaitable[None]]):
        self._apply_many = apply_many
        self.__name__ = getattr(apply_many, "__name__", "batch_handler")
        self.__doc__ = apply_many.__doc__

    async def apply_many(self, session: AsyncSession, items: list[Item]) -> None:
        await self._apply_many(session, items)

    async def __call__(self, session: AsyncSession, event: CloudEvent, payload: object) -> None:
        await self._apply_many(session, [(event, payload)])


class _OneByOne:
    """A plain Handler seen as a BatchHandler: the events of a run, in turn."""

    def __init__(self, handler: Handler):
        self.handler = handler

    async def apply_many(self, session: AsyncSession, items: list[Item]) -> None:
        for event, payload in items:
            await self.handler(session, event, payload)


def batch_handler(apply_many: Callable[[AsyncSession, list[Item]], Awaitable[None]]) -> Handler:
    """A handler that can also apply a run of events in one go (`apply_many`), for throughput:
    the runner hands it consecutive events of a partition batch inside one transaction. The
    result satisfies `BatchHandler` and is still callable as a one-event handler."""
    return _Batched(apply_many)


def as_batch_handler(handler: Handler | BatchHandler) -> BatchHandler:
    return handler if isinstance(handler, BatchHandler) else _OneByOne(handler)


class _Combined:
    """Several slices' handlers of the same event types, applied in turn in one transaction."""

    def __init__(self, handlers: tuple):
        self.handlers = [as_batch_handler(h) for h in handlers]
        self.__name__ = "+".join(getattr(h, "__name__", "handler") for h in handlers)

    async def apply_many(self, session: AsyncSession, items: list[Item]) -> None:
        for handler in self.handlers:
            await handler.apply_many(session, items)

    async def __call__(self, session: AsyncSession, event: CloudEvent, payload: object) -> None:
        await self.apply_many(session, [(event, payload)])


def combine_handlers(*maps: dict[str, Handler]) -> dict[str, Handler]:
    """Merge the slices' handler maps: an event type several slices handle gets one handler that
    runs theirs in the order given, in the runner's one transaction. The same combination is the
    same object for every type it serves, so the runner still hands it whole runs of events."""
    listed: dict[str, tuple] = {}
    for handlers in maps:
        for event_type, handler in handlers.items():
            listed[event_type] = listed.get(event_type, ()) + (handler,)
    made: dict[tuple[int, ...], Handler] = {}
    out: dict[str, Handler] = {}
    for event_type, handlers in listed.items():
        if len(handlers) == 1:
            out[event_type] = handlers[0]
            continue
        key = tuple(id(h) for h in handlers)
        out[event_type] = made.setdefault(key, _Combined(handlers))
    return out


class TopicsMissing(Exception):
    """A topic the group reads does not exist (yet): its publisher creates it."""


class ConsumerWedged(Exception):
    """The client stopped working with the broker (commits keep failing): build a new one."""


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


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


def _declared_type(msg) -> str | None:
    """The event type the message's `kam-event-type` header names (None without one)."""
    for name, value in msg.headers or ():
        if name == EVENT_TYPE_HEADER:
            return value.decode("utf-8", "replace")
    return None


def _parse(raw: bytes | None) -> CloudEvent:
    if raw is None:
        raise PoisonMessage("empty message value")
    try:
        return CloudEvent.model_validate_json(raw)  # a third of json.loads + model_validate
    except (ValueError, ValidationError) as exc:
        raise PoisonMessage(f"not a CloudEvent: {str(exc).splitlines()[0][:300]}") from None


def _payload_of(event: CloudEvent) -> object:
    try:
        return parse_payload(event)
    except ValidationError as exc:
        raise PoisonMessage(f"{event.type} payload invalid: {str(exc)[:300]}") from None


# The consumer group whose event transaction is running in this task: a handler that must hold
# the read-model lock exclusively (forecast-svc's hierarchy moves) takes the very key its
# transaction holds shared, whatever the group is named. Set only while a transaction runs.
_applying_for: ContextVar[str | None] = ContextVar("kam_applying_for", default=None)


@contextmanager
def _applying(group_id: str) -> Iterator[None]:
    token = _applying_for.set(group_id)
    try:
        yield
    finally:
        _applying_for.reset(token)


async def hold_read_model_exclusively(session: AsyncSession) -> None:
    """From inside an event handler: wait for every other event transaction of the group (on any
    replica) to finish, and hold new ones off until this one commits."""
    group = _applying_for.get()
    if group is None:
        raise RuntimeError("hold_read_model_exclusively is for event handlers run by a ConsumerRunner")
    await exclusive_read_model_lock(session, group)


def foreign_event(topic: str, event: CloudEvent) -> str | None:
    """Why the event may not be on this topic (another service's source or type), or None."""
    owner = topic_owner(topic)
    if owner is None:
        return None  # not a kam.<service>.events topic (a test's or a subscriber's): nothing to compare
    expected = source_of(owner.name)
    if event.source != expected:
        return f"source {event.source!r} is not {topic}'s owner ({expected}): refused as forged"
    prefix = topic.removesuffix("events")
    if not event.type.startswith(prefix):
        return f"type {event.type!r} is not one of {owner.name}'s ({prefix}…), the owner of {topic}: refused"
    return None


def is_stale(current_version: int | None, sequence: int) -> bool:
    """Per-aggregate sequence guard: an event older than (or equal to) what we hold is ignored."""
    return current_version is not None and sequence <= current_version


def _runs(items: list[Item], batchers: dict[str, BatchHandler]) -> Iterator[tuple[BatchHandler, list[Item]]]:
    """Consecutive events with the same handler, as (handler, run)."""
    start = 0
    for i in range(1, len(items) + 1):
        if i == len(items) or batchers[items[i][0].type] is not batchers[items[start][0].type]:
            yield batchers[items[start][0].type], items[start:i]
            start = i


class ConsumerRunner:
    def __init__(self, settings: ServiceSettings, db: Database, tables: PlumbingTables,
                 handlers: dict[str, Handler], *, group_id: str | None = None,
                 outbox_written: Callable[[], None] | None = None,
                 applied: Callable[[], None] | None = None):
        """Every handler transaction takes `read_model_lock` in shared mode (PostgreSQL), so an
        exclusive holder (`exclusive_read_model_lock`, e.g. a rebuild) sees no event half-applied
        on any replica of the service."""
        self.settings = settings
        self.db = db
        self.tables = tables
        self.handlers = handlers
        # One BatchHandler per handler object: a run of events is "consecutive events whose
        # handler is the same object", whatever types it is registered for.
        wrapped: dict[int, BatchHandler] = {}
        self._batchers = {t: wrapped.setdefault(id(h), as_batch_handler(h)) for t, h in handlers.items()}
        self.group_id = group_id or settings.service_name
        self.topics = sorted({CATALOGUE[t].topic for t in handlers})
        self.outbox_written = outbox_written
        # Called after each committed batch that applied something: wakes this replica's waiting
        # reads (kam_shared.applied); the claim's NOTIFY wakes the other replicas'.
        self.applied = applied
        self.notify_channel = notify_channel(self.group_id)
        self._consumer = None
        self._dlq_producer = None
        self._lost: set = set()  # partitions the probe found rewound, re-read by the poll loop
        self._ends_seen: dict = {}  # partition → highest end offset the probe saw
        self._stopping = False
        self.broker_ok = False
        self.assigned = False
        # Progress, for /readyz and the status route (monotonic seconds).
        self._progressed = self._broker_answered = time.monotonic()
        self.lag: int | None = None
        self.last_error: str | None = None
        self.waiting_for: list[str] = []
        self.commit_failures = 0
        self._commit_failures_in_row = 0
        self.rebuilds = 0

    async def run(self) -> None:
        """Connect, consume, and after any failure (the broker gone, a wedged client, commits that
        keep failing) drop the client and build a new one, with backoff. Never returns until stop()."""
        backoff = 0.2
        while not self._stopping:
            try:
                await self._connect()
                backoff = 0.2
                await self._poll_loop()
            except asyncio.CancelledError:
                if self._stopping or asyncio.current_task().cancelling():
                    raise
                # A CancelledError the client raised (from a call bounded() left behind), not a stop:
                # it must not end the consumer silently. Build a new client.
                self.broker_ok = False
                self.last_error = "CancelledError inside the Kafka client"
                log.warning("consumer %s: %s; a new client in %.1fs", self.group_id, self.last_error, backoff)
                await asyncio.sleep(backoff)
            except TopicsMissing as exc:  # the broker answered; the topics' publisher has not run yet
                if str(exc) != self.last_error:
                    log.warning("consumer %s: %s", self.group_id, exc)
                self.last_error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:
                self.broker_ok = False
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if self._consumer is not None:
                    self.rebuilds += 1
                    CONSUMER_REBUILDS.labels(self.settings.service_name).inc()
                log.warning("consumer %s cannot read (%s); a new client in %.1fs",
                            self.group_id, self.last_error, backoff)
                await self._close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await self._close()

    async def _connect(self) -> None:
        """The dead-letter topics this group writes exist (it creates them, with their partition
        count); the topics it reads belong to other services: wait until they exist, never create them."""
        await ensure_topics(self.settings, [dlq_topic(t) for t in self.topics])
        missing = await missing_topics(self.settings, self.topics)
        self.broker_ok = True
        self._broker_answered = time.monotonic()
        if missing:
            self.waiting_for = missing
            raise TopicsMissing(f"waiting for {', '.join(missing)} (created by the service that publishes it)")
        self.waiting_for = []
        self._consumer = make_consumer(self.settings, *self.topics, group_id=self.group_id, max_poll_records=500)
        await bounded(self.settings, self._consumer.start(), "consumer start", connect=True)
        self._broker_answered = time.monotonic()
        self._commit_failures_in_row = 0

    async def _close(self) -> None:
        for client in (self._consumer, self._dlq_producer):
            if client is not None:
                try:
                    await bounded(self.settings, client.stop(), "close")
                except Exception:  # a broken client: nothing more to release
                    pass
        self._consumer = None
        self._dlq_producer = None

    async def _poll_loop(self) -> None:
        """Fetch, apply, commit; the probe runs beside it in its own task (`_probe_loop`): its
        ListOffsets request shares the fetch's connection and the broker answers it only after the
        long-poll fetch in flight returns (up to `kafka_fetch_max_wait_ms`), so awaited here it held
        fetched events back for that long, once a second. The probe's failures end this loop (a new
        client is built), and the partitions it finds rewound are re-read here, between batches."""
        consumer = self._consumer
        probe = asyncio.create_task(self._probe_loop(consumer), name=f"consumer-probe-{self.group_id}")
        try:
            while not self._stopping:
                if probe.done():
                    probe.result()  # its failure is this client's: raise it to build a new one
                    raise ConsumerWedged("the consumer's probe ended")
                await self._rewind_lost(consumer)
                # getmany returns as soon as records arrive; the timeout only bounds how long a stop
                # or a failed probe waits to be noticed (a short one made the idle loop spin).
                batches = await bounded(self.settings, consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=500),
                                        "fetch")
                self.assigned = bool(consumer.assignment())
                batches = {tp: messages for tp, messages in batches.items() if messages}
                if not batches:
                    continue
                # Every partition's messages of this poll in one transaction: under a steady trickle
                # each partition brings one or two events, and a transaction per partition would cap
                # the rate at what six small commits cost. Per-key order holds: a key has one partition.
                await self._handle_batch([m for messages in batches.values() for m in messages])
                self._progressed = time.monotonic()
                self._broker_answered = self._progressed
                # The DB transactions above are committed; now the offsets may be.
                await self._commit(consumer, {tp: messages[-1].offset + 1 for tp, messages in batches.items()})
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)

    async def _rewind_lost(self, consumer) -> None:
        """Partitions the probe found shorter than our position (the broker lost their data): read
        them from their start."""
        while self._lost:
            tp = self._lost.pop()
            if tp in consumer.assignment():
                await bounded(self.settings, consumer.seek_to_beginning(tp), "seek")

    async def _commit(self, consumer, offsets: dict) -> None:
        """Commit after applying. A failed commit is logged and counted and does not hold the next
        batch up: the inbox makes a redelivery of these messages harmless, and the next commit
        covers them. After `consumer_rebuild_after_failures` failures in a row the client is
        rebuilt (a broker that forgot the group or the topic answers no commit of this client again)."""
        try:
            await bounded(self.settings, consumer.commit(offsets), "offset commit")
            self._commit_failures_in_row = 0
            return
        except Exception as exc:
            self.commit_failures += 1
            self._commit_failures_in_row += 1
            self.last_error = f"offset commit: {type(exc).__name__}: {exc}"[:500]
            CONSUMER_COMMIT_FAILURES.labels(self.settings.service_name).inc()
            log.warning("consumer %s: offset commit failed (%d in a row; applied events stay applied): %s",
                        self.group_id, self._commit_failures_in_row, self.last_error)
        if self._commit_failures_in_row >= self.settings.consumer_rebuild_after_failures:
            raise ConsumerWedged(f"{self._commit_failures_in_row} offset commits failed in a row")

    async def _probe_loop(self, consumer) -> None:
        while not self._stopping:
            await self._probe(consumer)
            await asyncio.sleep(PROBE_INTERVAL_S)

    async def _probe(self, consumer) -> None:
        """Ask the broker for the end of every partition this instance holds (a real round trip, so
        a broker that is gone shows here even while fetches come back empty), set kam_consumer_lag,
        note progress, and mark for a re-read a partition whose end fell back below our position (a
        broker that lost its data: what is there now was never read)."""
        assignment = list(consumer.assignment())
        if not assignment:
            await bounded(self.settings, consumer.topics(), "metadata")
            self._broker_answered = time.monotonic()
            self.lag = 0
            return
        ends = await bounded(self.settings, consumer.end_offsets(assignment), "end offsets")
        lag = 0
        for tp in assignment:
            position = await bounded(self.settings, consumer.position(tp), "position")
            end = ends.get(tp, 0)
            # Lost data: the partition's end went BACK (below an end seen before) and below our
            # position. Tansu's end offsets trail new writes by a few, so "below our position" alone
            # would rewind a healthy consumer; an end that moves backwards never happens on a broker
            # that kept its log.
            went_back = end < self._ends_seen.get(tp, 0)
            self._ends_seen[tp] = end if went_back else max(end, self._ends_seen.get(tp, 0))
            if went_back and end < position:
                log.warning("consumer %s: %s/%d ends at %d, below our position %d: the broker lost its data; "
                            "reading the partition from its start",
                            self.group_id, tp.topic, tp.partition, end, position)
                BROKER_RESETS.labels(self.settings.service_name, "consumer").inc()
                self._lost.add(tp)
                position = 0
            CONSUMER_LAG.labels(self.settings.service_name, tp.topic, str(tp.partition)).set(max(end - position, 0))
            lag += max(end - position, 0)
        self._broker_answered = time.monotonic()
        self.lag = lag
        if lag == 0:
            self._progressed = self._broker_answered

    def progress(self) -> dict:
        """What /readyz and GET /v1/admin/consumer say about this consumer: `stalled` is None while it
        makes progress, else why not."""
        now = time.monotonic()
        limit = self.settings.consumer_stall_s
        stalled = None
        # Waiting for a topic nobody has created yet is no stall: nothing was published to it (a
        # partial stack, or its publisher not started yet); `waiting_for` says so.
        if now - self._broker_answered > limit:
            silent = now - self._broker_answered
            stalled = f"no answer from the broker for {silent:.0f}s ({self.last_error or 'no error'})"
        elif self.lag and now - self._progressed > limit:
            stalled = f"lag {self.lag} and nothing applied for {now - self._progressed:.0f}s"
        wall = time.time() - now
        return {"stalled": stalled, "lag": self.lag, "waiting_for": self.waiting_for,
                "last_progress_at": _iso(wall + self._progressed),
                "last_broker_answer_at": _iso(wall + self._broker_answered),
                "last_error": self.last_error, "commit_failures": self.commit_failures, "rebuilds": self.rebuilds}

    async def _handle_batch(self, messages) -> list[CloudEvent]:
        """Decode a poll's messages (dead-lettering the undecodable), then apply them."""
        wanted = []
        for msg in messages:
            decoded = await self._decode(msg)
            if decoded is not None:
                wanted.append((msg, *decoded))
        return await self._apply_or_split(wanted)

    async def _decode(self, msg) -> Item | None:
        """The message's event and payload if this group handles it; None if not (another
        service's event) or if it went to the DLQ."""
        declared = _declared_type(msg)
        if declared is not None and declared in CATALOGUE and declared not in self.handlers:
            return None  # the kam-event-type header names another service's event: no need to parse it
        if declared in self.handlers:
            event = self._decode_typed(msg.value, declared)
            if event is not None:
                return await self._from_owner(msg, event, (event, event.data))
        try:
            event = _parse(msg.value)
        except PoisonMessage as exc:
            await self._dead_letter(msg, str(exc))
            return None
        return await self._from_owner(msg, event, await self._decode_payload(msg, event))

    async def _from_owner(self, msg, event: CloudEvent, item: Item | None) -> Item | None:
        """The item, unless its event claims a source or type that is not the topic owner's (DLQ)."""
        if item is None:
            return None
        reason = foreign_event(msg.topic, event)
        if reason is not None:
            await self._dead_letter(msg, reason, event)
            return None
        return item

    async def _decode_payload(self, msg, event: CloudEvent) -> Item | None:
        if event.type not in self.handlers:
            if event.type not in CATALOGUE:  # not in the topic's contract: say so, keep going
                await self._dead_letter(msg, f"unknown event type {event.type!r} (not in the event catalogue)", event)
            return None  # another service's event on a shared topic
        try:
            return event, _payload_of(event)
        except PoisonMessage as exc:
            await self._dead_letter(msg, str(exc), event)
            return None

    @staticmethod
    def _decode_typed(raw: bytes | None, declared: str) -> CloudEvent | None:
        """Envelope and payload in one pass over the JSON; None sends the message down the
        two-step path, which says exactly what is wrong."""
        if raw is None:
            return None
        try:
            event = _typed_envelope(declared).model_validate_json(raw)
        except ValidationError:
            return None
        return event if event.type == declared else None

    async def _apply_or_split(self, wanted: list[tuple[object, CloudEvent, object]]) -> list[CloudEvent]:
        """Apply in one transaction; on failure, the halves, down to the one failing message."""
        if not wanted:
            return []
        try:
            return await self._apply_together([(e, p) for _, e, p in wanted])
        except Exception as exc:
            if len(wanted) == 1:
                msg, event, payload = wanted[0]
                return await self._retry(msg, event, payload, exc)
            log.warning("batch of %d failed (%s: %s); applying it in halves", len(wanted), type(exc).__name__, exc)
        half = len(wanted) // 2
        return await self._apply_or_split(wanted[:half]) + await self._apply_or_split(wanted[half:])

    async def _retry(self, msg, event: CloudEvent, payload: object, first: Exception) -> list[CloudEvent]:
        """One message whose transaction failed once (`first`): retry it, then dead-letter it."""
        attempts = self.settings.consumer_max_attempts
        exc: Exception = first
        for attempt in range(2, attempts + 1):
            if isinstance(exc, (PoisonMessage, ImplausibleVersion)):
                break
            await asyncio.sleep(0.1 * 2 ** (attempt - 1))
            try:
                return await self._apply_together([(event, payload)])
            except Exception as again:
                exc = again
        if isinstance(exc, (PoisonMessage, ImplausibleVersion)):
            await self._dead_letter(msg, str(exc), event)
        else:
            log.error("event %s (%s) failed %d times", event.id, event.type, attempts, exc_info=exc)
            await self._dead_letter(msg, f"handler failed {attempts} times: {type(exc).__name__}: {exc}", event)
        return []

    async def _apply_together(self, items: list[Item]) -> list[CloudEvent]:
        """Apply events in one transaction, each at most once (the inbox claim); returns the
        events applied now (not those processed before)."""
        with _applying(self.group_id), version_jump_guard(self.settings.consumer_max_version_jump):
            async with self.db.session() as session:
                async with session.begin():
                    fresh = await self._claim_fresh(session, items)
                    for batcher, run in _runs(fresh, self._batchers):
                        await batcher.apply_many(session, run)
                    if fresh and self.db.sqlite:  # PostgreSQL's claim statement has done it
                        await self._touch_status(session, fresh[-1][0], len(fresh))
                # Handlers that publish (a merge, a health band, a re-assignment) wrote outbox rows in
                # this transaction: start the relay now rather than at its next poll.
                if session.info.pop(OUTBOX_WRITTEN, False) and self.outbox_written:
                    self.outbox_written()
                if fresh and self.applied:
                    self.applied()
        for event, _ in fresh:
            EVENTS_CONSUMED.labels(self.settings.service_name, event.type).inc()
            # The line an operator follows a change by: it carries the trace the event brought
            # (the CloudEvents `traceparent` extension), so a click's trace ends here.
            with span_from_traceparent(f"applied {event.type}", getattr(event, "traceparent", None),
                                       event_id=event.id, consumer=self.group_id):
                log.info("applied %s %s (subject %s, sequence %s)", event.type, event.id, event.subject,
                         event.sequence)
        return [e for e, _ in fresh]

    async def _claim_fresh(self, session: AsyncSession, items: list[Item]) -> list[Item]:
        """The one inbox claim: insert the events' ids; those the unique key let in are fresh (the
        first occurrence of an id, if the batch repeats it). A concurrent claim by another member of
        the group waits for that transaction and then finds the id taken."""
        unique = list({e.id: e for e, _ in items}.values())
        claimed = await self._claim(session, [e.id for e in unique], [e.type for e in unique],
                                    [e.time for e in unique], utcnow())
        fresh: list[Item] = []
        for event, payload in items:
            if event.id in claimed:
                claimed.discard(event.id)  # a duplicate later in the batch is not fresh
                fresh.append((event, payload))
        return fresh

    async def _claim(self, session: AsyncSession, ids: list[str], types: list[str], times: list, now) -> set[str]:
        """Insert the ids into the inbox in one statement; return those that were not there. The
        unique key says which are new, whatever the planner knows (a look-up with IN ($1..$500)
        becomes a linear scan per row once PostgreSQL switches to a generic plan).

        On PostgreSQL the same statement also counts the fresh ones into `read_model_status`
        (the last fresh event's time; `_touch_status` on SQLite): each statement of the apply
        path costs about a millisecond of the stage change → roll-up latency."""
        inbox = self.tables.inbox
        if session.bind.dialect.name == "postgresql":
            # Two arrays, one statement: a 500-row VALUES list costs more to compile in Python
            # than the database needs to apply it.
            # The statement first takes the read model's lock in shared mode (a rebuild or a hierarchy
            # move holds it exclusively: see hold_read_model_exclusively), one round trip for both,
            # and queues the NOTIFY that wakes other replicas' waiting reads when this commits.
            status = self.tables.read_model_status.name
            return set((await session.scalars(text(f"""
                WITH read_model_lock AS (SELECT pg_advisory_xact_lock_shared(:lock_key)),
                     announced AS (SELECT pg_notify(:channel, '')),
                     batch AS (SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[]),
                                                    CAST(:times AS timestamptz[])) WITH ORDINALITY AS u(i, t, at, n)),
                     claimed AS (
                         INSERT INTO {inbox.name} (consumer, event_id, event_type, processed_at)
                         SELECT :consumer, i, t, :now FROM read_model_lock, announced, batch
                         ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id),
                     touched AS (
                         INSERT INTO {status} (name, last_event_time, last_applied_at, events_applied)
                         SELECT :consumer, (SELECT b.at FROM batch b JOIN claimed c ON c.event_id = b.i
                                            ORDER BY b.n DESC LIMIT 1), :now, count(*)
                         FROM claimed HAVING count(*) > 0
                         ON CONFLICT (name) DO UPDATE SET last_event_time = excluded.last_event_time,
                             last_applied_at = excluded.last_applied_at,
                             events_applied = {status}.events_applied + excluded.events_applied)
                SELECT event_id FROM claimed"""),
                dict(consumer=self.group_id, now=now, ids=ids, types=types, times=times,
                     channel=self.notify_channel, lock_key=read_model_lock_key(self.group_id)))).all())
        return set((await session.scalars(
            sqlite.insert(inbox).values([dict(consumer=self.group_id, event_id=i, event_type=t, processed_at=now)
                                         for i, t in zip(ids, types, strict=True)])
            .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.event_id])
            .returning(inbox.c.event_id))).all())

    async def handle(self, event: CloudEvent) -> bool:
        """Apply one event exactly once, by the same path as a batch (one attempt, no DLQ).
        Returns False when it had been applied before."""
        return bool(await self._apply_together([(event, _payload_of(event))]))

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
            await bounded(self.settings, self._dlq_producer.start(), "dead-letter producer start", connect=True)
        # The original headers stay (content-type, kam-event-type, traceparent), then why it is here.
        headers = [*(msg.headers or ()), ("kam-dlq-reason", reason.encode()[:1000]),
                   ("kam-dlq-consumer", self.group_id.encode()),
                   ("kam-dlq-origin", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())]
        await bounded(self.settings, self._dlq_producer.send_and_wait(topic, value=msg.value, key=msg.key,
                                                                      headers=headers), f"dead-letter to {topic}")

    def partitions(self) -> list[str]:
        """The partitions this instance holds in its group right now ("topic/partition")."""
        if self._consumer is None:
            return []
        return sorted(f"{tp.topic}/{tp.partition}" for tp in self._consumer.assignment())

    async def stop(self) -> None:
        self._stopping = True
