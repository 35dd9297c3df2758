"""0006 (health, account teams) upgrades, seeds the default health model, and downgrades cleanly."""
from alembic import command
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.migrations import migrate_async
from kam_shared.services import SERVICES
from kam_shared.testing import fresh_database


async def _alembic(url: str, fn, revision: str) -> None:
    await migrate_async(SERVICES["account-svc"].dir, url, revision, down=fn is command.downgrade)


async def _scalar(url: str, sql: str):
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        value = (await conn.execute(text(sql))).scalar()
    await engine.dispose()
    return value


async def test_0006_seeds_the_default_model_and_downgrades():
    async with fresh_database("acct-migration") as url:
        await _alembic(url, command.upgrade, "0006")
        assert await _scalar(url, "SELECT version FROM health_model WHERE id = 1") == 1
        assert await _scalar(url, "SELECT count(*) FROM account_team") == 0
        await _alembic(url, command.downgrade, "0005")
        await _alembic(url, command.upgrade, "0006")
        assert await _scalar(url, "SELECT count(*) FROM health_model") == 1
