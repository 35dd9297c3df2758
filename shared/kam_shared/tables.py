"""Tables every service carries beside its own: outbox, inbox, and (for services that need
visibility or roll-ups) a replica of team-svc's user hierarchy.

They are built per MetaData so each service keeps its own schema; migrations create them
through `kam_shared.migrations.create_plumbing_tables`, from these same definitions.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
    text,
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
OUTBOX_SHARDS = 8


@dataclass
class PlumbingTables:
    outbox: Table
    inbox: Table
    user_replica: Table | None
    read_model_status: Table
    idempotency: Table
    audit: Table | None = None


def plumbing_tables(metadata: MetaData, *, user_replica: bool = False) -> PlumbingTables:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(200), nullable=False),
        # The shard fixes which relay may publish a key, so per-key order survives several replicas.
        Column("shard", Integer, nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("sent_at", UtcDateTime(), nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_unsent", "shard", "id", postgresql_where=text("sent_at IS NULL"),
              sqlite_where=text("sent_at IS NULL")),
    )
    inbox = Table(
        "inbox", metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", UtcDateTime(), nullable=False),
        # The inbox is searched by event id (a batch's ids); the consumer column is nearly constant,
        # so the primary key alone would scan every row of the consumer once statistics are stale.
        Index("ix_inbox_event_id", "event_id"),
    )
    status = Table(
        "read_model_status", metadata,
        Column("name", String(100), primary_key=True),
        Column("last_event_time", UtcDateTime(), nullable=True),
        Column("last_applied_at", UtcDateTime(), nullable=True),
        Column("events_applied", BigInteger, nullable=False, default=0),
    )
    users = None
    if user_replica:
        users = Table(
            "user_replica", metadata,
            Column("id", Uuid, primary_key=True),
            Column("email", String(320), nullable=False),
            Column("name", String(200), nullable=False),
            Column("role", String(20), nullable=False),
            Column("superior_id", Uuid, nullable=True, index=True),
            Column("active", Boolean, nullable=False, default=True),
            Column("version", Integer, nullable=False),
        )
    # POST responses by (caller, Idempotency-Key): a retried request gets the first answer back.
    idempotency = Table(
        "idempotency_keys", metadata,
        Column("principal_id", String(36), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("fingerprint", String(64), nullable=False),  # sha256 of method, path, query and body
        Column("status_code", Integer, nullable=True),  # null while the first request is running
        Column("response_headers", Text, nullable=True),  # JSON [[name, value], ...]
        Column("response_body", LargeBinary, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )
    return PlumbingTables(outbox=outbox, inbox=inbox, user_replica=users, read_model_status=status,
                          idempotency=idempotency, audit=audit_table(metadata))


def audit_table(metadata: MetaData) -> Table:
    """The audit trail (kam_shared.audit): an append-only copy of every outbox row, written in the same
    transaction, that the relay never purges. One row per event: the subject (aggregate id), who made
    the change (the CloudEvent's `actor`), when, and the aggregate's state after it; a record's history
    is the diff of consecutive states, read by (subject, time)."""
    return Table(
        "audit_log", metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("actor_id", String(36), nullable=True),
        Column("at", UtcDateTime(), nullable=False),
        Column("state", Text, nullable=False),  # JSON: the aggregate after the change
        Index("ix_audit_log_subject_at", "subject", "at", "id"),
        Index("ix_audit_log_actor_at", "actor_id", "at", "id"),
        Index("ix_audit_log_at", "at", "id"),
    )


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self):  # TypeDecorator answers `object`; keyset cursors parse by this type
        return dt.datetime

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use kam_shared.events.utcnow()")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value
