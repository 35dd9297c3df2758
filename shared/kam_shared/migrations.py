"""Alembic plumbing shared by the services: env.py body, plumbing-table creation and a
programmatic `upgrade` used by `kam migrate`, `make run`, the tests and the benchmarks.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from .tables import plumbing_tables


def run_env(target_metadata: MetaData, default_url) -> None:
    """The whole body of a service's migrations/env.py."""
    from alembic import context

    config = context.config

    def do_run(connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:  # called from upgrade_async() inside a running loop
        do_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or default_url()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def create_plumbing_tables(op, *, user_replica: bool = False) -> None:
    """Create outbox/inbox/status (and user replica) from the same definitions the code uses."""
    tables = plumbing_tables(MetaData(), user_replica=user_replica)
    bind = op.get_bind()
    for table in (tables.outbox, tables.inbox, tables.read_model_status, tables.user_replica):
        if table is not None:
            table.create(bind)


def add_inbox_event_index(op) -> None:
    """Revision helper for databases created before the inbox had its event-id index."""
    op.create_index("ix_inbox_event_id", "inbox", ["event_id"], if_not_exists=True)


def drop_inbox_event_index(op) -> None:
    op.drop_index("ix_inbox_event_id", "inbox", if_exists=True)


def create_idempotency_table(op) -> None:
    """Revision helper: the table behind `Idempotency-Key` on POST (kam_shared.idempotency)."""
    plumbing_tables(MetaData()).idempotency.create(op.get_bind(), checkfirst=True)


def drop_idempotency_table(op) -> None:
    op.execute("DROP TABLE IF EXISTS idempotency_keys")


def create_audit_table(op) -> None:
    """Revision helper: the audit trail (kam_shared.audit), filled from the outbox rows still kept
    (the relay purges sent rows after a week), so a record's history starts as far back as they go."""
    import json

    from sqlalchemy import insert, select

    from .audit_state import audit_row
    from .events import CloudEvent

    metadata = MetaData()
    tables = plumbing_tables(metadata)
    bind = op.get_bind()
    tables.audit.create(bind, checkfirst=True)
    outbox = tables.outbox
    rows = []
    for (payload,) in bind.execute(select(outbox.c.payload).order_by(outbox.c.id)):
        try:
            rows.append(audit_row(CloudEvent.model_validate(json.loads(payload))))
        except ValueError:  # not a CloudEvent we can read: it has no history to give
            continue
    if rows:
        bind.execute(insert(tables.audit), rows)


def drop_audit_table(op) -> None:
    op.execute("DROP TABLE IF EXISTS audit_log")


def drop_plumbing_tables(op) -> None:
    for name in ("user_replica", "read_model_status", "inbox", "outbox"):
        op.execute(f"DROP TABLE IF EXISTS {name}")


def alembic_config(service_dir: Path, url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def migrate_async(service_dir: Path, url: str, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade (or, `down`, downgrade) the service's database to `revision`."""
    from alembic import command

    cfg = alembic_config(service_dir, url)
    engine = create_async_engine(url, poolclass=pool.NullPool)

    def _run(connection) -> None:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


async def upgrade_async(service_dir: Path, url: str) -> None:
    await migrate_async(service_dir, url)


def upgrade(service_dir: Path, url: str) -> None:
    asyncio.run(upgrade_async(service_dir, url))
