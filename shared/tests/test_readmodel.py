"""ReadModel: the event types come from the catalogue; the live path and a rebuild write the same rows."""
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Uuid, select

from kam_shared.db import Database
from kam_shared.events import TOPICS
from kam_shared.events.opportunity import OpportunityState
from kam_shared.readmodel import ReadModel
from kam_shared.testing import fresh_database

metadata = MetaData()
replica = Table("opportunity_replica", metadata, Column("id", Uuid, primary_key=True),
                Column("account_id", Uuid, nullable=False), Column("amount", String, nullable=False),
                Column("close_date", Date, nullable=False), Column("status", String, nullable=False),
                Column("version", Integer, nullable=False))
OPPORTUNITIES = ReadModel(
    table=replica, topic=TOPICS["opportunity"], state_field="opportunity", state_model=OpportunityState,
    to_row=lambda o: dict(id=o.id, account_id=o.account_id, amount=str(o.amount), close_date=o.close_date,
                          status=o.status, version=o.version))


def _state(opp_id, version, status="open"):
    return OpportunityState(id=opp_id, account_id=uuid.uuid4(), name="n", amount=Decimal("10.00"), currency="CNY",
                            close_date=dt.date(2026, 12, 1), owner_id=uuid.uuid4(), stage=2, probability=20,
                            status=status, version=version, updated_at=dt.datetime.now(dt.UTC))


def test_follows_every_catalogued_event_that_carries_the_state():
    types = OPPORTUNITIES.event_types()
    for expected in ("created", "stage_changed", "closed", "reopened", "owner_changed"):
        assert f"kam.opportunity.{expected}.v1" in types
    assert "kam.opportunity.stage_model_changed.v1" not in types  # carries the stage table, not an opportunity
    assert set(OPPORTUNITIES.handlers()) == set(types)


async def test_live_path_and_rebuild_write_the_same_rows_and_never_go_back():
    async with fresh_database("readmodel") as url:
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        live, rebuilt = uuid.uuid4(), uuid.uuid4()
        async with db.session() as session, session.begin():
            assert await OPPORTUNITIES.apply(session, _state(live, 2, "won"))
            assert not await OPPORTUNITIES.apply(session, _state(live, 1))  # older: ignored
            await OPPORTUNITIES.apply_states(session, [_state(rebuilt, 2, "won")])
            await OPPORTUNITIES.apply_states(session, [_state(rebuilt, 1)])
        async with db.session() as session:
            rows = {r["id"]: r for r in (await session.execute(select(replica))).mappings()}
        assert (rows[live]["status"], rows[live]["version"]) == ("won", 2)
        assert (rows[rebuilt]["status"], rows[rebuilt]["version"]) == ("won", 2)
        await db.dispose()
