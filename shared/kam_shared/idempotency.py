"""`Idempotency-Key` on POST: a client that retries a POST (a timeout, a dropped mobile link)
with the same key gets the first answer back instead of a second account or opportunity.

- Keys are scoped to the caller (the verified token's user), so one user can never replay
  another's response. Requests without a valid bearer token pass straight through (they get
  their 401 from the route).
- The first request claims the key in a row before it runs. A retry while it still runs is 409
  (with `Retry-After`). Once it has finished, a retry gets the stored status, headers and body,
  plus `Idempotent-Replayed: true`.
- The same key with a different request (method, path, query or body) is 422.
- What is stored: every answer below 500 except 401, 408 and 429, which a retry should be
  allowed to get past. A 5xx, or a crash, releases the key so the retry runs again.
- Keys expire after 24 hours. A key whose request never answered (its process died mid-request)
  is a lease that lapses after `IDEMPOTENCY_LEASE_S` (30 s): a retry then runs again.

The side effects of the first request and the stored answer are two commits. If the process
dies between them, the key is released and a retry runs again: at-least-once, as without the
header, never a wrong answer.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.datastructures import Headers

from .errors import Unauthorized, problem
from .events import utcnow

log = logging.getLogger("kam.idempotency")

KEEP_FOR = dt.timedelta(hours=24)
NOT_STORED = {401, 408, 429}
REPLAYED_HEADERS = {"content-type", "etag", "location"}
MAX_KEY_LENGTH = 200


class IdempotencyMiddleware:
    """Plain ASGI, like the metrics middleware: it must not buffer the app's response."""

    def __init__(self, app):
        self.app = app
        self._claims = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            return await self.app(scope, receive, send)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return await problem(422, "Invalid Idempotency-Key",
                                 f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters",
                                 field="Idempotency-Key")(scope, receive, send)
        runtime = scope["app"].state.runtime
        scheme, _, token = headers.get("authorization", "").partition(" ")
        try:
            principal = await runtime.verifier.verify(token) if scheme.lower() == "bearer" and token else None
        except Unauthorized:
            principal = None
        if principal is None:
            return await self.app(scope, receive, send)

        body = await _read_body(receive)
        fingerprint = hashlib.sha256(b"\n".join([
            scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])).hexdigest()
        table = runtime.tables.idempotency
        who = str(principal.user_id)

        stored = await self._claim(runtime, table, who, key, fingerprint)
        if stored is not None:
            return await self._answer_again(stored, fingerprint, key, scope, receive, send)

        await self._run_and_store(runtime, table, who, key, scope, _replay(body, receive), send)

    async def _run_and_store(self, runtime, table, who: str, key: str, scope, receive, send) -> None:
        """The first request with this key: run it, store its answer, then send that answer."""
        status = {"code": 500, "headers": []}
        chunks: list[bytes] = []
        held: list[dict] = []

        async def capture(message):
            # Held until the answer is stored: a client that retries the moment it has the first
            # answer must get it replayed, not a 409 "still in flight".
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["headers"] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            held.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self._release(runtime, table, who, key)
            raise
        if status["code"] >= 500 or status["code"] in NOT_STORED:
            await self._release(runtime, table, who, key)
        else:
            kept = [[k, v] for k, v in status["headers"] if k.lower() in REPLAYED_HEADERS]
            async with runtime.db.session() as session, session.begin():
                await session.execute(table.update().where(table.c.principal_id == who, table.c.key == key).values(
                    status_code=status["code"], response_headers=json.dumps(kept), response_body=b"".join(chunks)))
        for message in held:
            await send(message)

    async def _claim(self, runtime, table, who: str, key: str, fingerprint: str):
        """Claim the key; None when this request is the first, else the row already there."""
        now = utcnow()
        insert = (postgresql if runtime.db.engine.dialect.name == "postgresql" else sqlite).insert(table)
        async with runtime.db.session() as session, session.begin():
            self._claims += 1
            if self._claims % 1000 == 0:  # now and then, forget expired keys
                await session.execute(delete(table).where(table.c.created_at < now - KEEP_FOR))
            claimed = (await session.execute(
                insert.values(principal_id=who, key=key, fingerprint=fingerprint, created_at=now)
                .on_conflict_do_nothing(index_elements=[table.c.principal_id, table.c.key])
                .returning(table.c.key))).first()
            if claimed is not None:
                return None
            row = (await session.execute(select(table).where(table.c.principal_id == who, table.c.key == key))
                   ).mappings().first()
            if row is not None and _abandoned_or_expired(row, now, runtime.settings.idempotency_lease_s):
                await session.execute(table.update().where(table.c.principal_id == who, table.c.key == key)
                                      .values(fingerprint=fingerprint, created_at=now, status_code=None,
                                              response_headers=None, response_body=None))
                return None
            return dict(row) if row is not None else None

    @staticmethod
    async def _release(runtime, table, who: str, key: str) -> None:
        try:
            async with runtime.db.session() as session, session.begin():
                await session.execute(delete(table).where(table.c.principal_id == who, table.c.key == key))
        except Exception:  # the key then stays claimed until it expires; say so
            log.exception("could not release Idempotency-Key %r", key)

    @staticmethod
    async def _answer_again(stored: dict, fingerprint: str, key: str, scope, receive, send):
        if stored["fingerprint"] != fingerprint:
            return await problem(422, "Idempotency-Key reused",
                                 f"Idempotency-Key {key!r} was used for a different request (method, path, query "
                                 "or body); use a new key for a new request",
                                 field="Idempotency-Key")(scope, receive, send)
        if stored["status_code"] is None:
            return await problem(409, "Request in progress",
                                 f"a request with Idempotency-Key {key!r} is still running; retry shortly",
                                 headers={"Retry-After": "1"})(scope, receive, send)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(stored["response_headers"])]
        body = stored["response_body"] or b""
        headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": stored["status_code"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _abandoned_or_expired(row, now: dt.datetime, lease_s: float) -> bool:
    """An answered key lives 24 hours. An unanswered one is a lease: the request that claimed it
    is still running, or its process died (kill -9, OOM) before it could release the key. After
    `lease_s` (30 s by default; a request here takes milliseconds) a retry takes the key over."""
    created = row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=dt.UTC)
    if row["status_code"] is None:
        return created < now - dt.timedelta(seconds=lease_s)
    return created < now - KEEP_FOR


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):
    """A `receive` that hands the app the body already read, then behaves like the real one
    (which, the body being consumed, only reports the client's disconnect)."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
