"""The incrementally maintained subtree cells must always equal a plain sum over the opportunities
under the final hierarchy, whatever order, repetition or staleness the events arrive with, and
however people move between managers meanwhile; and they must equal a recomputation from scratch."""
import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from forecast_svc.categories.domain import effective_category
from forecast_svc.periods.domain import parse_period
from forecast_svc.rollups.models import opportunity_facts, rollup_cells
from forecast_svc.rollups.repository import RollupRepository
from kam_shared.events import DomainEvent, OpportunityStageChanged, OpportunityState, parse_payload, utcnow
from kam_shared.money import from_cents
from kam_shared.testing import bearer, feed, service_client, user_event

BOSS, MGR_A, MGR_B = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
READER = uuid.uuid4()  # an admin: reads every node (BOSS is a manager; authority comes from the replica)
REPS = [uuid.uuid4() for _ in range(5)]
LATE_REP = REPS[-1]  # their user event arrives only after some of their opportunities
PERIODS = ["2026-10", "2026-11", "2026-12", "2026-Q4", "2027-Q1", "2026", "2027"]
MAPPING = {1: "pipeline", 2: "pipeline", 3: "pipeline", 4: "best_case", 5: "best_case", 6: "commit", 7: "commit"}


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(BOSS, "manager", None), user_event(MGR_A, "manager", BOSS),
                   user_event(MGR_B, "manager", BOSS), *[user_event(r, "rep", MGR_A) for r in REPS[:-1]])
        yield client


def _event(state: OpportunityState):
    return DomainEvent("kam.opportunity.stage_changed.v1", state.id, state.version, OpportunityStageChanged(
        opportunity=state, from_stage=1, to_stage=state.stage)).to_cloudevent("/kam/opportunity-svc")


def _subtree(superior_of: dict, root) -> set:
    return {u for u in superior_of if _chain(superior_of, u).__contains__(root)} | {root}


def _chain(superior_of: dict, user) -> list:
    chain = [user]
    while superior_of.get(chain[-1]) is not None:
        chain.append(superior_of[chain[-1]])
    return chain


async def test_cells_equal_a_brute_force_sum_after_a_random_stream_with_hierarchy_moves(forecast):
    rng = random.Random(7)
    states: dict[uuid.UUID, OpportunityState] = {}
    superior_of = {BOSS: None, MGR_A: BOSS, MGR_B: BOSS, **{r: MGR_A for r in REPS[:-1]}}
    user_versions = {u: 1 for u in superior_of}
    sent = []
    for step in range(700):
        if step == 200:  # the late rep's user event finally arrives
            superior_of[LATE_REP], user_versions[LATE_REP] = MGR_B, 1
            sent.append(user_event(LATE_REP, "rep", MGR_B))
            continue
        if step > 200 and rng.random() < 0.04:  # someone moves to another manager
            who = rng.choice(REPS + [MGR_B])
            if who == MGR_B:
                new = rng.choice([BOSS, None])
            else:
                new = rng.choice([MGR_A, MGR_B, BOSS])
            superior_of[who] = new
            user_versions[who] += 1
            sent.append(user_event(who, "manager" if who == MGR_B else "rep", new, version=user_versions[who],
                                   created=False))
            continue
        if not states or rng.random() < 0.25:
            state = OpportunityState(
                id=uuid.uuid4(), account_id=uuid.uuid4(), name="o", amount=Decimal(rng.randrange(1, 10**7)) / 100,
                currency=rng.choice(["CNY", "CNY", "USD"]), close_date=dt.date(2026, 10, 1) + dt.timedelta(
                    days=rng.randrange(0, 200)), owner_id=rng.choice(REPS + [MGR_A]), stage=1, probability=10,
                status="open", version=1, updated_at=utcnow())
        else:
            current = states[rng.choice(list(states))]
            if current.status != "open":
                continue
            change = rng.random()
            update = {"version": current.version + 1}
            if change < 0.4:
                stage = rng.randint(1, 7)
                update.update(stage=stage, probability=[10, 20, 30, 40, 50, 70, 90][stage - 1])
            elif change < 0.5:
                update.update(close_date=current.close_date + dt.timedelta(days=rng.randint(-60, 60)))
            elif change < 0.6:
                update.update(owner_id=rng.choice(REPS))
            elif change < 0.7:
                update.update(amount=Decimal(rng.randrange(1, 10**7)) / 100)
            elif change < 0.8:
                update.update(confirmed=not current.confirmed)
            elif change < 0.88:
                update.update(forecast_category=rng.choice([None, "pipeline", "best_case", "commit", "omitted"]))
            else:
                won = rng.random() < 0.5
                update.update(stage=8, probability=100 if won else 0, status="won" if won else "lost")
            state = current.model_copy(update=update)
        states[state.id] = state
        sent.append(_event(state))
        if rng.random() < 0.1:  # a redelivery of something already seen
            sent.append(rng.choice(sent))
        if rng.random() < 0.05 and state.version > 1:  # a stale state under a new event id
            sent.append(_event(state.model_copy(update={"version": state.version - 1, "stage": 3})))
    # Deliver in batches through the consumer's own batch path, then the rest one by one.
    consumer = forecast.runtime.consumer
    half = len(sent) // 2
    for i in range(0, half, 50):
        await consumer._apply_together([(e, parse_payload(e)) for e in sent[i:i + 50]])
    await feed(forecast.runtime, *sent[half:])

    async with forecast.runtime.db.session() as session:
        facts = (await session.execute(select(opportunity_facts))).mappings().all()
    assert {f["id"]: f["version"] for f in facts} == {i: s.version for i, s in states.items()}
    nodes = [BOSS, MGR_A, MGR_B, REPS[0], LATE_REP]
    for period in PERIODS:
        p = parse_period(period)
        for node in nodes:
            owners = _subtree(superior_of, node)
            for currency, confirmed_only in (("CNY", False), ("USD", False), ("CNY", True)):
                chosen = [f for f in facts if f["owner_id"] in owners and p.contains(f["close_date"])
                          and f["currency"] == currency and (f["confirmed"] or not confirmed_only)]
                got = (await forecast.get("/v1/rollups", headers=bearer(READER, "admin"), params={
                    "node": str(node), "period": period, "currency": currency,
                    "confirmed_only": str(confirmed_only).lower()})).json()
                where = f"{period} {currency} confirmed_only={confirmed_only} node={node}"
                open_ = [f for f in chosen if f["status"] == "open"]
                assert got["open_count"] == len(open_), where
                assert Decimal(got["open_amount"]) == sum((from_cents(f["amount_cents"]) for f in open_),
                                                          Decimal("0.00")), where
                weighted = sum(f["amount_cents"] * f["probability"] for f in open_)
                assert Decimal(got["weighted_amount"]) == (Decimal(weighted) / 10000).quantize(Decimal("0.01"))
                for stage in range(1, 8):
                    assert got["stages"][stage - 1]["count"] == len([f for f in open_ if f["stage"] == stage])
                won = [f for f in chosen if f["status"] == "won"]
                assert got["won_count"] == len(won)
                assert Decimal(got["won_amount"]) == sum((from_cents(f["amount_cents"]) for f in won), Decimal("0.00"))
                assert got["lost_count"] == len([f for f in chosen if f["status"] == "lost"])
                expected = {}
                for f in chosen:
                    c = effective_category(f["status"], f["stage"], f["category_override"], MAPPING)
                    n, cents = expected.get(c, (0, 0))
                    expected[c] = (n + 1, cents + f["amount_cents"])
                assert {c["category"]: (c["count"], Decimal(c["amount"])) for c in got["categories"] if c["count"]} \
                    == {c: (n, from_cents(cents)) for c, (n, cents) in expected.items()}, where

    # And the live cells equal a recomputation from the facts and the final hierarchy.
    async with forecast.runtime.db.session() as session, session.begin():
        live = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all()
                if any(r[7:])}
        await session.execute(delete(rollup_cells))
        await RollupRepository(session).recompute(forecast.runtime.tables.user_replica)
        rebuilt = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all()}
        await session.rollback()
    assert live == rebuilt


async def test_moves_that_arrive_out_of_order_and_invert_an_ancestry_still_end_exact(forecast):
    """team-svc moves B from under A to the top, then A under B. The two events travel on different
    partitions, so forecast-svc may see A's first: for a moment A is under B and B under A."""
    root, x, a, b = (uuid.uuid4() for _ in range(4))
    await feed(forecast.runtime, user_event(root, "manager", None), user_event(x, "manager", root),
               user_event(a, "manager", x), user_event(b, "manager", a))

    def opp(owner, cents):
        state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="o", amount=Decimal(cents) / 100,
                                 currency="CNY", close_date=dt.date(2030, 5, 5), owner_id=owner, stage=2,
                                 probability=20, status="open", version=1, updated_at=utcnow())
        return _event(state)

    await feed(forecast.runtime, opp(a, 100_00), opp(b, 20_00), opp(x, 3_00))
    await feed(forecast.runtime, user_event(a, "manager", b, version=2, created=False),  # A's move, seen first
               user_event(b, "manager", root, version=2, created=False))

    async def open_amount(node):
        return (await forecast.get("/v1/rollups", headers=bearer(root, "admin"),
                                   params={"node": str(node), "period": "2030-05"})).json()["open_amount"]

    # Now: root ← x, root ← b ← a.
    assert [await open_amount(n) for n in (root, x, b, a)] == ["123.00", "3.00", "120.00", "100.00"]
    async with forecast.runtime.db.session() as session, session.begin():
        live = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all() if any(r[7:])}
        await session.execute(delete(rollup_cells))
        await RollupRepository(session).recompute(forecast.runtime.tables.user_replica)
        rebuilt = {tuple(r[:7]): tuple(r[7:]) for r in (await session.execute(select(rollup_cells))).all()}
        await session.rollback()
    assert live == rebuilt
