"""Waiting reads: a GET that answers when the read model has changed, not when it is polled.

A client that holds a read's ETag sends it back in `If-None-Match` with `Prefer: wait=<seconds>`
(RFC 7240): the route reads again whenever a consumer batch commits and answers as soon as the
figures differ from the tag (200), or 304 when the wait is over. This is how a screen shows a
change within milliseconds of its event being applied, without a poll every second from every
screen.

Who wakes the waiters (`AppliedSignal`):
- in the replica that applied the batch, the consumer right after its commit (`notify`);
- in every other replica of the service, PostgreSQL: the consumer's inbox claim sends
  `NOTIFY kam_applied_<group>` inside the batch's transaction (delivered at commit, never for a
  rolled-back batch), and each replica that has a waiting read LISTENs on one connection of its own
  (`listen`, started by the first waiting read; it reconnects by itself). SQLite runs one process.
A waiter also reads again every `RECHECK_S` whatever it heard: a notification lost while the
listening connection was being rebuilt delays an answer by at most that long.

A client that long-polls sends its next waiting read as soon as it has the answer, with the tag
it just got. If nothing has been applied since this replica computed that tag for the same reader
and query (`AppliedSignal.remember`), the figures cannot differ, and the read would only find the
same tag: the route goes straight to waiting (`unchanged_since`). That is trusted only while no
notification can have been missed (this process alone, or its LISTEN connection up) and for at
most `RECHECK_S`, so a reply is never later than without it.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The longest wait a client may ask for: below the gateway's read timeout (30 s by default).
MAX_WAIT_S = 20.0
RECHECK_S = 5.0
REMEMBERED_READS = 4096  # tags kept for `unchanged_since` (one per reader and query)
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def notify_channel(group_id: str) -> str:
    """The PostgreSQL channel a consumer group's committed batches are announced on."""
    return "kam_applied_" + re.sub(r"[^a-z0-9_]", "_", group_id.lower())


def wait_preference(prefer: str | None) -> float:
    """Seconds from `Prefer: wait=N` (RFC 7240), at most MAX_WAIT_S; 0 without one. A preference
    the server cannot honour is ignored, as the RFC says, never an error."""
    found = _WAIT.search(prefer or "")
    return min(float(found.group(1)), MAX_WAIT_S) if found else 0.0


def tag_matches(if_none_match: str | None, tag: str) -> bool:
    """Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 says for this header)."""
    if not if_none_match:
        return False
    bare = tag.removeprefix("W/")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))


class AppliedSignal:
    """Wakes every reader waiting for the service's read model to change."""

    def __init__(self, database_url: str | None = None, channel: str | None = None):
        self._event = asyncio.Event()
        self._database_url = database_url
        self._channel = channel
        self._listener: asyncio.Task | None = None
        self._listening = False  # the LISTEN connection is up: other replicas' batches reach us
        self._recent: OrderedDict[Hashable, tuple[asyncio.Event, str, float]] = OrderedDict()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def _hears_everything(self) -> bool:
        """Would a batch committed anywhere have reached `notify`? Yes in a process that is the only
        consumer (no channel, or not PostgreSQL), else only while the LISTEN connection is up."""
        if not (self._channel and self._database_url) or \
                make_url(self._database_url).get_backend_name() != "postgresql":
            return True
        return self._listening

    def remember(self, key: Hashable, seen: asyncio.Event, tag: str) -> None:
        """`tag` is what a read of `key` (reader and query) found, having taken `seen` before it."""
        self._recent[key] = (seen, tag, time.monotonic())
        self._recent.move_to_end(key)
        while len(self._recent) > REMEMBERED_READS:
            self._recent.popitem(last=False)

    def unchanged_since(self, key: Hashable, if_none_match: str | None) -> asyncio.Event | None:
        """The `seen` of the remembered read of `key` when its tag is the client's and nothing can
        have changed since (no batch applied here, none missed, younger than RECHECK_S); else None."""
        entry = self._recent.get(key)
        if entry is None:
            return None
        seen, tag, at = entry
        if seen is not self._event or time.monotonic() - at >= RECHECK_S or not self._hears_everything():
            return None
        return seen if tag_matches(if_none_match, tag) else None

    def current(self) -> asyncio.Event:
        """Take this before reading: a change committed after the read has begun sets it."""
        return self._event

    async def wait(self, seen: asyncio.Event, timeout: float) -> None:
        """Until a batch commits after `seen` was taken, or `timeout` seconds (RECHECK_S at most)."""
        self._ensure_listening()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(seen.wait(), min(timeout, RECHECK_S))

    def _ensure_listening(self) -> None:
        if self._listener is None and self._channel and self._database_url and \
                make_url(self._database_url).get_backend_name() == "postgresql":
            self._listener = asyncio.create_task(self._listen(), name=f"listen-{self._channel}")

    async def _listen(self) -> None:
        import asyncpg

        dsn = make_url(self._database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            closed = asyncio.Event()
            try:
                connection = await asyncpg.connect(dsn, timeout=10)
            except Exception as exc:  # the database is away: the waiters still recheck
                log.warning("cannot LISTEN on %s (%s: %s); retrying", self._channel, type(exc).__name__, exc)
                await asyncio.sleep(2)
                continue
            try:
                connection.add_termination_listener(lambda _c, closed=closed: closed.set())
                await connection.add_listener(self._channel, lambda *_: self.notify())
                self.notify()  # whatever committed while nobody listened: let the waiters read again
                self._listening = True
                await closed.wait()
            finally:
                self._listening = False
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
            await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None


async def read_until_changed(read: Callable[[], Awaitable[Any]], tag_of: Callable[[Any], str],
                             signal: AppliedSignal, if_none_match: str | None,
                             wait_s: float, key: Hashable | None = None) -> tuple[Any | None, str]:
    """(body, tag): the first read whose tag differs from `If-None-Match`, or (None, tag) when the
    figures are still those the client holds after `wait_s` (the route answers 304). Each read is
    its own transaction: no database connection is held while waiting.

    `key` names the reader and the query (everything the answer depends on besides the read model):
    with it, a waiting read whose tag this replica has just computed, with nothing applied since,
    waits first instead of reading the same figures again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    unchanged = signal.unchanged_since(key, if_none_match) if key is not None and wait_s > 0 else None
    if unchanged is not None:
        await signal.wait(unchanged, wait_s)
    while True:
        seen = signal.current()
        body = await read()
        tag = tag_of(body)
        if key is not None:
            signal.remember(key, seen, tag)
        if not tag_matches(if_none_match, tag):
            return body, tag
        left = deadline - loop.time()
        if left <= 0:
            return None, tag
        await signal.wait(seen, left)
