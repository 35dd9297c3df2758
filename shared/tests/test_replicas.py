import asyncio
import uuid

from sqlalchemy import MetaData, select

from kam_shared.db import Database
from kam_shared.replicas import upsert_versioned
from kam_shared.tables import plumbing_tables
from kam_shared.testing import fresh_database


async def test_versioned_upsert_never_goes_back_and_concurrent_writers_do_not_collide():
    async with fresh_database("replicas") as url:
        metadata = MetaData()
        users = plumbing_tables(metadata, user_replica=True).user_replica
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        uid = uuid.uuid4()

        async def write(version, name):
            async with db.session() as session, session.begin():
                return await upsert_versioned(session, users, dict(id=uid, email="a@b.c", name=name, role="rep",
                                                                   superior_id=None, active=True, version=version))

        results = await asyncio.gather(*(write(1, "first") for _ in range(5)))
        assert results.count(True) == 1  # one insert; the others saw version 1 already there
        assert await write(3, "third") is True
        assert await write(2, "second, late") is False
        async with db.session() as session:
            row = (await session.execute(select(users))).mappings().one()
        assert (row["version"], row["name"]) == (3, "third")
        await db.dispose()
