"""Each state of the history names when the state it replaced became valid (prev_valid_from), and
each fact when its current and its first states did (state_valid_from, created_valid_from): GET
/v1/pipeline-changes finds an opportunity's two ends by them (0017). Every path that writes states
keeps them: the consumer, a stage re-weighting, the migration's back-fill of an existing history."""
import asyncio
import datetime as dt
import uuid

from sqlalchemy import column, insert, pool, select, table, text
from sqlalchemy.ext.asyncio import create_async_engine

from forecast_svc.rollups.models import opportunity_facts as facts
from forecast_svc.rollups.models import opportunity_history as history
from kam_shared.events import utcnow
from kam_shared.migrations import migrate_async
from kam_shared.services import SERVICES
from kam_shared.testing import bearer, feed, fresh_database, service_client, user_event

MGR, REP = uuid.uuid4(), uuid.uuid4()


async def instant():
    await asyncio.sleep(0.02)
    t = utcnow()
    await asyncio.sleep(0.02)
    return t


async def test_the_consumer_and_a_reweighting_link_each_state_to_the_one_it_replaced(events):
    async with service_client("forecast-svc") as forecast:
        await feed(forecast.runtime, user_event(MGR, "manager", None), user_event(REP, "rep", MGR))
        kept = events.Opportunity(REP, amount="1000.00")
        reweighted = events.Opportunity(REP, amount="2000.00")
        await feed(forecast.runtime, *kept.at_stage(3), *reweighted.at_stage(5))
        since = await instant()
        then = (await forecast.get("/v1/rollups", params={"node": str(MGR), "period": "2026-Q4"},
                                   headers=bearer(MGR, "manager"))).json()
        fresh = events.Opportunity(REP, amount="500.00")
        await feed(forecast.runtime, events.stage_model_changed(1, {5: 60}), *fresh.at_stage(5))

        async with forecast.runtime.db.session() as session:
            states = (await session.execute(select(history.c.opportunity_id, history.c.valid_from,
                                                   history.c.prev_valid_from, history.c.prev_status)
                                            .order_by(history.c.opportunity_id, history.c.valid_from,
                                                      history.c.version))).all()
            dated = {r.id: r for r in (await session.execute(
                select(facts.c.id, facts.c.state_valid_from, facts.c.created_valid_from))).all()}
        by_opportunity: dict = {}
        for row in states:
            by_opportunity.setdefault(row.opportunity_id, []).append(row)
        assert len(by_opportunity[reweighted.state.id]) == 3  # created, moved, re-weighted
        for opportunity, rows in by_opportunity.items():
            assert rows[0].prev_status is None and rows[0].prev_valid_from is None
            assert [r.prev_valid_from for r in rows[1:]] == [r.valid_from for r in rows[:-1]]
            assert dated[opportunity].state_valid_from == rows[-1].valid_from
            assert dated[opportunity].created_valid_from == rows[0].valid_from

        body = (await forecast.get("/v1/pipeline-changes", params={
            "node": str(MGR), "period": "2026-Q4", "since": since.isoformat()}, headers=bearer(MGR, "manager"))).json()
        kinds = {c["opportunity_id"]: c["kind"] for c in body["changes"]}
        assert kinds == {str(reweighted.state.id): "other", str(fresh.state.id): "created"}
        other = next(c for c in body["changes"] if c["kind"] == "other")
        assert other["effect"]["weighted_amount"] == "200.00"  # 2000 × (60% − 50%)
        assert body["start"]["weighted_amount"] == then["weighted_amount"]
        now = (await forecast.get("/v1/rollups", params={"node": str(MGR), "period": "2026-Q4"},
                                  headers=bearer(MGR, "manager"))).json()
        assert body["end"]["weighted_amount"] == now["weighted_amount"]


# The two tables as 0016 left them.
FACTS_0016 = table("opportunity_facts", *[column(c.name, c.type) for c in facts.c
                                          if c.name not in ("state_valid_from", "created_valid_from")])
HISTORY_0016 = table("opportunity_history", *[column(c.name, c.type) for c in history.c if c.name != "prev_valid_from"])


def _moment(value) -> dt.datetime:
    """A timestamp as the database returns it (SQLite: text, naive; PostgreSQL: aware)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


async def test_0017_links_an_existing_history_and_dates_the_facts():
    service = SERVICES["forecast-svc"]
    t0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    moved, new, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    state = dict(owner_id=REP, stage=2, probability=20, amount_cents=100, currency="CNY",
                 close_date=dt.date(2026, 11, 1), status="open", category_override=None, confirmed=False)
    prev = {f"prev_{k}": v for k, v in state.items()}
    none = dict.fromkeys(prev)  # (an insert of many rows takes the first one's columns)
    rows = [  # moved: created, then two states (the second two at one instant, told apart by version)
        dict(opportunity_id=moved, valid_from=t0, version=1, **state, **none),
        dict(opportunity_id=moved, valid_from=t0 + dt.timedelta(days=2), version=2, **state, **prev),
        dict(opportunity_id=moved, valid_from=t0 + dt.timedelta(days=2), version=3, **state, **prev),
        dict(opportunity_id=new, valid_from=t0 + dt.timedelta(days=5), version=1, **state, **none),
        # the history began after this one's creation: its first state replaced an unknown one
        dict(opportunity_id=unknown, valid_from=t0 + dt.timedelta(days=7), version=4, **state, **prev),
    ]
    async with fresh_database("forecast-migration") as url:
        await migrate_async(service.dir, url, "0016")
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.execute(insert(FACTS_0016), [
                dict(id=i, account_id=uuid.uuid4(), owner_id=REP, amount_cents=100, currency="CNY",
                     close_date=dt.date(2026, 11, 1), stage=2, probability=20, status="open", version=v,
                     updated_at=t0, confirmed=False) for i, v in ((moved, 3), (new, 1), (unknown, 4))])
            await conn.execute(insert(HISTORY_0016), rows)
        await migrate_async(service.dir, url, "head")
        async with engine.connect() as conn:
            linked = (await conn.execute(text(
                "SELECT opportunity_id, version, prev_valid_from FROM opportunity_history"))).all()
            dated = (await conn.execute(text(
                "SELECT id, state_valid_from, created_valid_from FROM opportunity_facts"))).all()
        await engine.dispose()
    prev_of = {(uuid.UUID(str(r[0])), r[1]): r[2] and _moment(r[2]) for r in linked}
    assert prev_of == {(moved, 1): None, (moved, 2): t0, (moved, 3): t0 + dt.timedelta(days=2),
                       (new, 1): None, (unknown, 4): None}
    assert {uuid.UUID(str(r[0])): (_moment(r[1]), r[2] and _moment(r[2])) for r in dated} == {
        moved: (t0 + dt.timedelta(days=2), t0), new: (t0 + dt.timedelta(days=5), t0 + dt.timedelta(days=5)),
        unknown: (t0 + dt.timedelta(days=7), None)}
