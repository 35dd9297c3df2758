"""The floor for bench/opportunity_write.py: a minimal FastAPI + SQLAlchemy app that accepts the same
requests as opportunity-svc's create and stage change and only inserts one row per request.
No auth, no visibility, no domain rules, no history, no outbox, no metrics.

    DATABASE_URL=postgresql+asyncpg://... PORT=8099 python bench/_minimal_app.py

Started as a process by the benchmark, served by uvicorn like the services (`kam serve`), on the
same database server and database as opportunity-svc (its own table, `bench_floor_rows`).
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, Text, Uuid, insert
from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.tables import UtcDateTime

metadata = MetaData()
rows = Table(
    "bench_floor_rows", metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


class Body(BaseModel):
    model_config = {"extra": "allow"}


def create_app(url: str) -> FastAPI:
    engine = create_async_engine(url, pool_size=10, max_overflow=10) if url.startswith("postgresql") \
        else create_async_engine(url, connect_args={"timeout": 30})

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    async def insert_one(kind: str, body: Body) -> uuid.UUID:
        row_id = uuid.uuid4()
        async with engine.begin() as conn:
            await conn.execute(insert(rows).values(id=row_id, kind=kind, body=body.model_dump_json(),
                                                   created_at=dt.datetime.now(dt.timezone.utc)))
        return row_id

    @app.post("/v1/opportunities", status_code=201)
    async def create(body: Body):
        return {"id": str(await insert_one("create", body))}

    @app.post("/v1/opportunities/{opp_id}/stage")
    async def stage(opp_id: uuid.UUID, body: Body):
        return {"id": str(await insert_one("stage", body))}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(os.environ["DATABASE_URL"]), host="127.0.0.1", port=int(os.environ["PORT"]),
                log_config=None, access_log=False)
