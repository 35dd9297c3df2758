"""The incrementally maintained roll-up cells must always equal a plain sum over the opportunities,
whatever order, repetition or staleness the events arrive with."""
import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from forecast_svc.models import opportunity_facts
from forecast_svc.domain.periods import parse_period
from kam_shared.events import DomainEvent, OpportunityStageChanged, OpportunityState, parse_payload, utcnow
from kam_shared.money import from_cents
from kam_shared.testing import bearer, feed, service_client, user_event

BOSS = uuid.uuid4()
REPS = [uuid.uuid4() for _ in range(4)]
PERIODS = ["2026-10", "2026-11", "2026-12", "2026-Q4", "2027-Q1", "2026", "2027"]


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(BOSS, "manager", None),
                   *[user_event(r, "rep", BOSS) for r in REPS])
        yield client


def _event(state: OpportunityState):
    return DomainEvent("kam.opportunity.stage_changed.v1", state.id, state.version, OpportunityStageChanged(
        opportunity=state, from_stage=1, to_stage=state.stage)).to_cloudevent("/kam/opportunity-svc")


async def test_cells_equal_a_brute_force_sum_after_a_random_event_stream(forecast):
    rng = random.Random(7)
    states: dict[uuid.UUID, OpportunityState] = {}
    sent = []
    for step in range(600):
        if not states or rng.random() < 0.25:
            state = OpportunityState(
                id=uuid.uuid4(), account_id=uuid.uuid4(), name="o", amount=Decimal(rng.randrange(1, 10**7)) / 100,
                currency=rng.choice(["CNY", "CNY", "USD"]), close_date=dt.date(2026, 10, 1) + dt.timedelta(
                    days=rng.randrange(0, 200)), owner_id=rng.choice(REPS), stage=1, probability=10, status="open",
                version=1, updated_at=utcnow())
        else:
            current = states[rng.choice(list(states))]
            if current.status != "open":
                continue
            change = rng.random()
            update = {"version": current.version + 1}
            if change < 0.5:
                stage = rng.randint(1, 7)
                update.update(stage=stage, probability=[10, 20, 30, 40, 50, 70, 90][stage - 1])
            elif change < 0.65:
                update.update(close_date=current.close_date + dt.timedelta(days=rng.randint(-60, 60)))
            elif change < 0.75:
                update.update(owner_id=rng.choice(REPS))
            elif change < 0.85:
                update.update(amount=Decimal(rng.randrange(1, 10**7)) / 100)
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
    for period in PERIODS:
        p = parse_period(period)
        for node, owners in [(BOSS, set(REPS)), (REPS[0], {REPS[0]})]:
            for currency in ("CNY", "USD"):
                chosen = [f for f in facts if f["owner_id"] in owners and p.contains(f["close_date"])
                          and f["currency"] == currency]
                got = (await forecast.get("/v1/rollups", headers=bearer(BOSS, "manager"),
                                          params={"node": str(node), "period": period, "currency": currency})).json()
                open_ = [f for f in chosen if f["status"] == "open"]
                assert got["open_count"] == len(open_)
                assert Decimal(got["open_amount"]) == sum((from_cents(f["amount_cents"]) for f in open_), Decimal("0.00"))
                weighted = sum(f["amount_cents"] * f["probability"] for f in open_)
                assert Decimal(got["weighted_amount"]) == (Decimal(weighted) / 10000).quantize(Decimal("0.01"))
                for stage in range(1, 8):
                    assert got["stages"][stage - 1]["count"] == len([f for f in open_ if f["stage"] == stage])
                won = [f for f in chosen if f["status"] == "won"]
                assert got["won_count"] == len(won)
                assert Decimal(got["won_amount"]) == sum((from_cents(f["amount_cents"]) for f in won), Decimal("0.00"))
                assert got["lost_count"] == len([f for f in chosen if f["status"] == "lost"])
