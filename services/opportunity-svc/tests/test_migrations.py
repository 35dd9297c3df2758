"""0002 on a database that already holds 0001 data (what `make run` users and deployments have)."""
import datetime as dt
import uuid

from alembic import command
from sqlalchemy import JSON, Date, Integer, String, Uuid, column, insert, pool, select, table, text
from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.migrations import migrate_async
from kam_shared.services import SERVICES
from kam_shared.tables import UtcDateTime
from kam_shared.testing import fresh_database

# The two tables as revision 0001 left them.
OPPORTUNITIES_0001 = table(
    "opportunities", column("id", Uuid), column("account_id", Uuid), column("name", String),
    column("amount_cents", Integer), column("currency", String), column("close_date", Date),
    column("owner_id", Uuid), column("stage", Integer), column("probability", Integer), column("status", String),
    column("version", Integer), column("created_at", UtcDateTime()), column("updated_at", UtcDateTime()))
HISTORY_0001 = table(
    "stage_history", column("opportunity_id", Uuid), column("from_stage", Integer), column("to_stage", Integer),
    column("status", String), column("changed_at", UtcDateTime()))


async def _alembic(url: str, fn, revision: str) -> None:
    await migrate_async(SERVICES["opportunity-svc"].dir, url, revision, down=fn is command.downgrade)


async def test_0002_backfills_stage_entry_times_and_history_kinds_and_seeds_the_stage_model():
    async with fresh_database("opp-migration") as url:
        await _alembic(url, command.upgrade, "0001")
        opp_id = uuid.uuid4()
        t0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.execute(insert(OPPORTUNITIES_0001).values(
                id=opp_id, account_id=uuid.uuid4(), name="Old deal", amount_cents=100, currency="CNY",
                close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4(), stage=5, probability=50, status="open",
                version=3, created_at=t0, updated_at=t0 + dt.timedelta(days=9)))
            await conn.execute(insert(HISTORY_0001), [
                dict(opportunity_id=opp_id, from_stage=before, to_stage=after, status="open",
                     changed_at=t0 + dt.timedelta(days=3 * i))
                for i, (before, after) in enumerate([(None, 1), (1, 2), (2, 5)])])
        await _alembic(url, command.upgrade, "head")
        async with engine.connect() as conn:
            entered = (await conn.execute(text("SELECT stage_entered_at, lines, confirmed FROM opportunities"))).one()
            kinds = (await conn.execute(text("SELECT kind FROM stage_history ORDER BY id"))).scalars().all()
            stages = (await conn.execute(text("SELECT probability FROM stage_model ORDER BY number"))).scalars().all()
        stage_entered_at = entered[0] if isinstance(entered[0], dt.datetime) else dt.datetime.fromisoformat(entered[0])
        assert stage_entered_at.replace(tzinfo=dt.timezone.utc) == t0 + dt.timedelta(days=6)  # the latest move
        assert not entered[2] and entered[1] in ([], "[]")
        assert kinds == ["created", "advanced", "skipped_forward"]
        assert stages == [10, 20, 30, 40, 50, 70, 90, 100]
        await _alembic(url, command.downgrade, "0001")  # and back, cleanly
        await engine.dispose()


async def test_models_match_the_migrations():
    """models.py and the Alembic revisions describe the same schema (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kam_shared.migrations import upgrade_async
    from opportunity_svc.main import metadata

    async with fresh_database("opp-schema") as url:
        await upgrade_async(SERVICES["opportunity-svc"].dir, url)
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            diffs = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), metadata))
        await engine.dispose()
    assert diffs == []


# The opportunities table as revision 0005 left it (what the product-catalogue migration reads).
OPPORTUNITIES_0005 = table(
    "opportunities", column("id", Uuid), column("account_id", Uuid), column("name", String),
    column("amount_cents", Integer), column("currency", String), column("close_date", Date),
    column("owner_id", Uuid), column("stage", Integer), column("probability", Integer), column("status", String),
    column("version", Integer), column("created_at", UtcDateTime()), column("updated_at", UtcDateTime()),
    column("stage_entered_at", UtcDateTime()), column("lines", JSON))


async def test_0006_makes_catalogue_entries_from_free_text_lines_and_links_them():
    async with fresh_database("opp-migration-0006") as url:
        await _alembic(url, command.upgrade, "0005")
        t0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
        free = [[{"product": "Core banking licence", "quantity": 2, "expected_price_cents": 100},
                 {"product": "  Onsite  support ", "quantity": 1}],
                [{"product": "Core banking licence", "quantity": 5}, {"product": "核心系统", "quantity": 1}], []]
        ids = [uuid.uuid4() for _ in free]
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.execute(insert(OPPORTUNITIES_0005), [dict(
                id=i, account_id=uuid.uuid4(), name="Old deal", amount_cents=100, currency="CNY",
                close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4(), stage=2, probability=20, status="open",
                version=1, created_at=t0, updated_at=t0, stage_entered_at=t0, lines=lines)
                for i, lines in zip(ids, free, strict=True)])
        await _alembic(url, command.upgrade, "0006")
        async with engine.connect() as conn:
            products = (await conn.execute(text("SELECT code, name, family, active, version FROM products "
                                                "ORDER BY name"))).all()
            rows = {r[0]: r[1] for r in (await conn.execute(select(OPPORTUNITIES_0005.c.id,
                                                                   OPPORTUNITIES_0005.c.lines))).all()}
        assert [(p[0], p[1], p[2], bool(p[3]), p[4]) for p in products] == [
            ("CORE-BANKING-LICENCE", "Core banking licence", "uncategorised", True, 1),
            ("ONSITE-SUPPORT", "Onsite support", "uncategorised", True, 1),
            ("LEGACY", "核心系统", "uncategorised", True, 1)]
        first, second, empty = (rows[i] for i in ids)
        assert [(line["product_code"], line["product"], line["family"], line["quantity"]) for line in first] == [
            ("CORE-BANKING-LICENCE", "Core banking licence", "uncategorised", 2),
            ("ONSITE-SUPPORT", "Onsite support", "uncategorised", 1)]
        assert first[0]["expected_price_cents"] == 100  # the rest of the line is kept
        assert [line["product_code"] for line in second] == ["CORE-BANKING-LICENCE", "LEGACY"] and empty == []
        await _alembic(url, command.downgrade, "0005")  # and back: the lines keep their text
        async with engine.connect() as conn:
            back = (await conn.execute(select(OPPORTUNITIES_0005.c.lines)
                                       .where(OPPORTUNITIES_0005.c.id == ids[0]))).scalar_one()
        assert [(line["product"], "product_code" in line) for line in back] == [
            ("Core banking licence", False), ("Onsite support", False)]
        await engine.dispose()
