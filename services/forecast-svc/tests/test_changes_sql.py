"""GET /v1/pipeline-changes classifies and sums in SQL (changes/repository.py); the pure functions of
changes/domain.py say the same in Python. Random streams of changes of every kind (owner, currency,
close date in and out of the period, stage, amount, status, override) go through the real consumer
path; the response must equal what the pure domain makes of the states the test itself knows at
`since` and now: each opportunity's kind and effect, the listing's order, every step's totals,
and the two ends equal to the roll-ups."""
import asyncio
import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest

from forecast_svc.categories.repository import CategoryRepository
from forecast_svc.changes import domain
from forecast_svc.changes.domain import Change, Scope, State
from kam_shared.events import DomainEvent, OpportunityCreated, OpportunityState, utcnow
from kam_shared.events.opportunity import OpportunityUpdated
from kam_shared.money import from_cents
from kam_shared.testing import bearer, feed, service_client, user_event

MGR, REP_A, REP_B, OUTSIDER = (uuid.uuid4() for _ in range(4))
TREE = {MGR, REP_A, REP_B}
Q4 = Scope("CNY", dt.date(2026, 10, 1), dt.date(2027, 1, 1))
CLOSES = [dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 11, 20), dt.date(2026, 11, 21),
          dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 3, 1)]  # the period's edges and inside


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(MGR, "manager", None), user_event(REP_A, "rep", MGR),
                   user_event(REP_B, "rep", MGR), user_event(OUTSIDER, "rep", None))
        yield client


def random_state(rng: random.Random, base: OpportunityState) -> OpportunityState:
    """`base` with a few of its roll-up-relevant fields changed at random."""
    update: dict = {"version": base.version + 1, "updated_at": utcnow()}
    for field in rng.sample(["owner", "currency", "close", "stage", "amount", "status", "override", "probability"],
                            rng.randint(1, 2)):
        if field == "owner":
            update["owner_id"] = rng.choice([MGR, REP_A, REP_B, OUTSIDER])
            if update["owner_id"] == base.owner_id:  # a transfer is the point
                update["owner_id"] = OUTSIDER if base.owner_id in TREE else REP_A
        elif field == "currency":
            update["currency"] = rng.choice(["CNY", "CNY", "USD"])
        elif field == "close":
            update["close_date"] = rng.choice(CLOSES)
        elif field == "stage":
            update.update(stage=rng.randint(1, 7), status="open")
        elif field == "amount":
            update["amount"] = Decimal(rng.randrange(100, 10**6)) / 100
        elif field == "status":
            status = rng.choice(["open", "won", "lost"])
            update.update(status=status, stage=rng.randint(1, 7) if status == "open" else 8,
                          probability={"won": 100, "lost": 0}.get(status, base.probability))
        elif field == "override":
            update["forecast_category"] = rng.choice([None, "commit", "best_case", "pipeline", "omitted"])
        else:
            update["probability"] = rng.randint(0, 100)
    return base.model_copy(update=update)


def new_state(rng: random.Random) -> OpportunityState:
    return OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", owner_id=rng.choice(
        [MGR, REP_A, REP_B, OUTSIDER]), currency=rng.choice(["CNY", "CNY", "USD"]), close_date=rng.choice(CLOSES),
        amount=Decimal(rng.randrange(100, 10**6)) / 100, stage=rng.randint(1, 7), probability=rng.randint(0, 100),
        status="open", version=1, updated_at=utcnow(), forecast_category=rng.choice([None, None, "commit"]))


def created(state: OpportunityState):
    return DomainEvent("kam.opportunity.created.v1", state.id, state.version,
                       OpportunityCreated(opportunity=state)).to_cloudevent("/kam/opportunity-svc")


def updated(state: OpportunityState):
    return DomainEvent("kam.opportunity.updated.v1", state.id, state.version,
                       OpportunityUpdated(opportunity=state, changes={})).to_cloudevent("/kam/opportunity-svc")


def pure(state: OpportunityState | None) -> State | None:
    if state is None:
        return None
    return State(state.owner_id, state.stage, state.probability, int(state.amount * 100), state.currency,
                 state.close_date, state.status, state.forecast_category)


async def instant():
    await asyncio.sleep(0.02)
    t = utcnow()
    await asyncio.sleep(0.02)
    return t


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_classification_equals_the_pure_domain(forecast, seed):
    rng = random.Random(seed)
    states = {s.id: s for s in (new_state(rng) for _ in range(80))}
    await feed(forecast.runtime, *[created(s) for s in states.values()])
    for s in rng.sample(list(states.values()), 20):  # some already changed before `since`
        states[s.id] = random_state(rng, s)
        await feed(forecast.runtime, updated(states[s.id]))
    since = await instant()
    then = dict(states)
    params = {"node": str(MGR), "period": "2026-Q4", "since": since.isoformat(), "limit": 1000}
    start = (await forecast.get("/v1/rollups", params={"node": str(MGR), "period": "2026-Q4"},
                                headers=bearer(MGR, "manager"))).json()
    touched = set()
    for _ in range(150):  # changes after `since`: some twice or more, some back to where they were
        s = states[rng.choice(list(states))]
        states[s.id] = random_state(rng, s)
        touched.add(s.id)
        await feed(forecast.runtime, updated(states[s.id]))
    for s in (new_state(rng) for _ in range(10)):
        states[s.id] = s
        touched.add(s.id)
        await feed(forecast.runtime, created(s))

    async with forecast.runtime.db.session() as session:
        mapping = await CategoryRepository(session).category_map()
    changes = [Change(i, pure(then.get(i)), then.get(i) is not None and then[i].owner_id in TREE, pure(states[i]),
                      states[i].owner_id in TREE) for i in sorted(touched)]
    expected = domain.ordered(domain.classify(changes, Q4, mapping))
    assert len({c.kind for c in expected}) >= 8, "the stream should make most kinds"

    body = (await forecast.get("/v1/pipeline-changes", params=params, headers=bearer(MGR, "manager"))).json()
    assert body["changes_total"] == len(expected)
    assert [(c["opportunity_id"], c["kind"]) for c in body["changes"]] == [
        (str(c.change.opportunity_id), c.kind) for c in expected]
    for got, want in zip(body["changes"], expected, strict=True):
        assert got["effect"]["open_amount"] == str(from_cents(want.effect.open_cents))
        assert got["effect"]["won_amount"] == str(from_cents(want.effect.won_cents))
        assert got["effect"]["commit_amount"] == str(from_cents(want.effect.commit_cents))
    totals, counts = domain.kind_totals(expected)
    for step in body["waterfall"]:
        kind, total = step["kind"], totals[step["kind"]]
        assert (step["count"], step["open_count"], step["won_count"]) == (counts[kind], total.open_count,
                                                                          total.won_count), kind
        assert (step["open_amount"], step["commit_amount"], step["won_amount"]) == (
            str(from_cents(total.open_cents)), str(from_cents(total.commit_cents)),
            str(from_cents(total.won_cents))), kind
    commit = next(c["amount"] for c in start["categories"] if c["category"] == "commit")
    assert body["start"] == {"open_count": start["open_count"], "open_amount": start["open_amount"],
                             "weighted_amount": start["weighted_amount"], "commit_amount": commit,
                             "won_count": start["won_count"], "won_amount": start["won_amount"]}
    weighted = Decimal(body["start"]["weighted_amount"]) + sum(Decimal(s["weighted_amount"]) for s in body["waterfall"])
    assert f"{weighted:.2f}" == body["end"]["weighted_amount"]


async def test_the_listing_is_a_page_of_the_exact_totals(forecast):
    """`limit` cuts the listing, never the waterfall: the steps' counts still add up to them all."""
    rng = random.Random(7)
    await feed(forecast.runtime, created(new_state(rng)))  # the history starts before `since`
    since = (await instant()).isoformat()
    fresh = [new_state(rng).model_copy(update={"owner_id": REP_A, "currency": "CNY", "close_date": Q4.start})
             for _ in range(6)]
    await feed(forecast.runtime, *[created(s) for s in fresh])
    params = {"node": str(MGR), "period": "2026-Q4", "since": since}
    full = (await forecast.get("/v1/pipeline-changes", params={**params, "limit": 1000},
                               headers=bearer(MGR, "manager"))).json()
    page = (await forecast.get("/v1/pipeline-changes", params={**params, "limit": 3},
                               headers=bearer(MGR, "manager"))).json()
    assert full["changes_total"] == 6 and page["changes_total"] == 6
    assert page["changes"] == full["changes"][:3]
    assert page["waterfall"] == full["waterfall"] and page["start"] == full["start"]
    assert sum(s["count"] for s in page["waterfall"]) == page["changes_total"]
    rest = (await forecast.get("/v1/pipeline-changes", params={**params, "limit": 3, "offset": 3},
                               headers=bearer(MGR, "manager"))).json()
    assert rest["changes"] == full["changes"][3:6] and rest["waterfall"] == full["waterfall"]
    beyond = await forecast.get("/v1/pipeline-changes", params={**params, "offset": -1}, headers=bearer(MGR, "manager"))
    assert beyond.status_code == 422 and beyond.headers["content-type"].startswith("application/problem+json")


async def test_an_end_out_of_scope_is_looked_up_where_the_kind_needs_it(forecast):
    """The ends come from the in-scope states after `since`; where the first of them is not the
    opportunity's first state after `since` (an earlier one was out of scope at both ends), the
    state at `since` still decides created / pulled_in / transferred_in, and today's close date
    decides slipped / pulled_out / transferred_out."""
    rng = random.Random(11)
    base = dict(owner_id=REP_A, currency="CNY", close_date=dt.date(2026, 11, 20), status="open", stage=3)
    usd_in_q4 = new_state(rng).model_copy(update={**base, "currency": "USD"})
    slipping = new_state(rng).model_copy(update=base)
    await feed(forecast.runtime, created(usd_in_q4), created(slipping))
    since = await instant()
    # Out at both ends first (USD, after the quarter), then in: another currency before, not the period.
    step = usd_in_q4.model_copy(update={"version": 2, "close_date": dt.date(2027, 3, 1), "updated_at": utcnow()})
    moved_in = step.model_copy(update={"version": 3, "currency": "CNY", "close_date": dt.date(2026, 12, 1),
                                       "updated_at": utcnow()})
    late = new_state(rng).model_copy(update={**base, "currency": "USD"})  # created after `since`, out of scope
    late_in = late.model_copy(update={"version": 2, "currency": "CNY", "updated_at": utcnow()})
    slipped = slipping.model_copy(update={"version": 2, "close_date": dt.date(2027, 3, 1), "updated_at": utcnow()})
    await feed(forecast.runtime, updated(step), updated(moved_in), created(late), updated(late_in), updated(slipped))
    body = (await forecast.get("/v1/pipeline-changes", params={"node": str(MGR), "period": "2026-Q4",
                                                                "since": since.isoformat(), "limit": 1000},
                               headers=bearer(MGR, "manager"))).json()
    kinds = {c["opportunity_id"]: c["kind"] for c in body["changes"]}
    assert kinds[str(usd_in_q4.id)] == "transferred_in"
    assert kinds[str(late.id)] == "created"
    assert kinds[str(slipping.id)] == "slipped"
    steps = {s["kind"]: s["count"] for s in body["waterfall"]}
    assert steps["transferred_in"] >= 1 and steps["created"] >= 1 and steps["slipped"] >= 1
