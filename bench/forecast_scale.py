"""forecast-svc at scale: 2,000 users in 6 levels, 200,000 opportunities.

(a) events applied per second by one forecast-svc instance (catching up on a full topic);
(b) p99 of the top node's quarter roll-up read; beside it, in the same run, p99 of the top org
    unit's (the company: every user in it) and of a territory's (a quarter of the accounts) reads;
    and of the top node's prediction (GET /v1/predictions);
(c) p99 of "stage change accepted by opportunity-svc → top node's roll-up shows it" while
    background stage changes run at 200/s, beside the broker's raw produce→consume round trip;
(d) p99 of the top node's pipeline-changes over the last 7 days and over the quarter, and of its
    forecast-history by day for the quarter, beside the roll-up read of (b).

Each opportunity is created at a random time of the past year and most are moved, won or lost
later (events back-dated as opportunity-svc would have published them), so (d) reads a year of
state history.

The organisation and the 200,000 opportunities are published as the owning services would
publish them (CloudEvents on kam.team.events / kam.opportunity.events); the live stage changes
of (c) go through opportunity-svc's HTTP API. Probe opportunities are in USD and the
background load in CNY, so each probe's effect on the top node's USD roll-up is known exactly.

    .venv/bin/python bench/forecast_scale.py [--opportunities 200000] [--probes 100]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import random
import time
import uuid
from decimal import Decimal

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kam_shared.broker import ensure_topics
from kam_shared.devstack import Stack, add_broker_option, free_port, postgres_available, stack_database_urls
from kam_shared.events import (
    TOPICS,
    AccountCreated,
    AccountState,
    DomainEvent,
    OpportunityClosed,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityState,
    UserCreated,
    UserState,
    utcnow,
)
from kam_shared.events.team import (
    OrgUnitCreated,
    OrgUnitState,
    TerritoryCreated,
    TerritoryRuleState,
    TerritoryState,
)
from kam_shared.services import SERVICES
from kam_shared.settings import ServiceSettings
from kam_shared.testing import jwks_json_for_tests, token_for

LEVEL_SIZES = [1, 4, 16, 80, 400, 1499]  # 2,000 users in 6 levels
PROBABILITY = [10, 20, 30, 40, 50, 70, 90]
QUARTER = "2026-Q4"
QUARTER_START = "2026-10-01"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)


UNIT_KINDS = ["company", "business_unit", "region", "team"]  # one unit per manager of the first 4 levels
REGIONS = ["north", "south", "east", "west"]


def build_org(rng: random.Random) -> tuple[list[UserState], list[uuid.UUID], list[OrgUnitState]]:
    users: list[UserState] = []
    units: list[OrgUnitState] = []
    unit_of: dict[uuid.UUID, uuid.UUID] = {}
    previous: list[uuid.UUID] = []
    for level, size in enumerate(LEVEL_SIZES):
        current = []
        for i in range(size):
            uid = uuid.uuid4()
            superior = previous[i % len(previous)] if previous else None
            role = "rep" if level == len(LEVEL_SIZES) - 1 else "manager"
            if level < len(UNIT_KINDS):
                unit = OrgUnitState(id=uuid.uuid4(), name=f"unit {level}-{i}", kind=UNIT_KINDS[level],
                                    parent_id=unit_of.get(superior), company_id=units[0].id if units else uuid.uuid4(),
                                    manager_id=uid, version=1)
                if not units:
                    unit = unit.model_copy(update={"company_id": unit.id})
                units.append(unit)
                unit_of[uid] = unit.id
            else:
                unit_of[uid] = unit_of[superior]
            users.append(UserState(id=uid, email=f"u{level}-{i}@bench.kam", name=f"u{level}-{i}", role=role,
                                   superior_id=superior, version=1, org_unit_id=unit_of[uid]))
            current.append(uid)
        previous = current
    return users, previous, units  # everyone, the reps (leaf level), the org units


def build_territories(owner: uuid.UUID, accounts: int) -> tuple[list[TerritoryState], list[AccountState]]:
    """A national territory over one per region (a rule each), and accounts spread over the regions."""
    national = TerritoryState(id=uuid.uuid4(), name="national", parent_id=None, owner_id=owner, version=1)
    regional = [TerritoryState(id=uuid.uuid4(), name=region, parent_id=national.id, owner_id=owner, version=1,
                               rules=[TerritoryRuleState(id=uuid.uuid4(), name=region, priority=1, regions=[region])])
                for region in REGIONS]
    states = [AccountState(id=uuid.uuid4(), name=f"Bench {i}", region=REGIONS[i % len(REGIONS)], version=1)
              for i in range(accounts)]
    return [national, *regional], states


async def publish(bootstrap: str, topic: str, events: list, source: str) -> None:
    """Publish DomainEvents, or (DomainEvent, time) pairs for events that happened in the past."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all",
                                linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for item in events:
            event, at = item if isinstance(item, tuple) else (item, None)
            ce = event.to_cloudevent(source)
            if at is not None:
                ce.time = at
            pending.append(await producer.send(  # the headers the services' outbox relay sets
                topic, ce.model_dump_json().encode(), key=ce.partitionkey.encode(),
                headers=[("content-type", b"application/cloudevents+json"), ("kam-event-type", ce.type.encode())]))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def history_events(rng: random.Random, count: int, reps: list[uuid.UUID], start_day: dt.date,
                   accounts: list[uuid.UUID]) -> list:
    """`count` opportunities, each created at stage 1 at a random time of the past year; 80% are
    later moved to their final stage, won or lost (a second event, back-dated too)."""
    now = utcnow()
    out = []
    for _ in range(count):
        stage = rng.randint(1, 7)
        status = "open" if rng.random() < 0.8 else rng.choice(["won", "lost"])
        created_at = now - dt.timedelta(seconds=rng.randrange(60, 365 * 86400))
        first = OpportunityState(
            id=uuid.uuid4(), account_id=rng.choice(accounts), name="bench",
            amount=Decimal(rng.randrange(10**5, 10**9)) / 100,
            currency="CNY", close_date=start_day + dt.timedelta(days=rng.randrange(0, 730)), owner_id=rng.choice(reps),
            stage=1, probability=PROBABILITY[0], status="open", version=1, updated_at=created_at)
        out.append((DomainEvent("kam.opportunity.created.v1", first.id, 1, OpportunityCreated(opportunity=first)),
                    created_at))
        if rng.random() < 0.2 or (status == "open" and stage == 1):
            continue
        moved_at = created_at + (now - created_at) * rng.random()
        final = first.model_copy(update={
            "stage": 8 if status != "open" else stage, "status": status, "version": 2, "updated_at": moved_at,
            "probability": {"won": 100, "lost": 0}.get(status, PROBABILITY[stage - 1])})
        if status == "open":
            event = DomainEvent("kam.opportunity.stage_changed.v1", final.id, 2, OpportunityStageChanged(
                opportunity=final, from_stage=1, to_stage=stage))
        else:
            event = DomainEvent("kam.opportunity.closed.v1", final.id, 2, OpportunityClosed(
                opportunity=final, outcome=status, reason="bench", from_stage=1))
        out.append((event, moved_at))
    return out


async def timed_reads(http: httpx.AsyncClient, url: str, params: dict, headers: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await http.get(url, params=params, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return out


async def broker_round_trip(bootstrap: str, samples: int = 500) -> list[float]:
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:6]}"
    await ensure_topics(ServiceSettings(kafka_bootstrap_servers=bootstrap, kafka_topic_partitions=1), [topic])
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        await consumer.seek_to_end()
        await producer.send_and_wait(topic, b"warm-up")
        await consumer.getone()
        times = []
        for i in range(samples):
            start = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode())
            await consumer.getone()
            times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        await producer.stop()
        await consumer.stop()


async def wait_until(check, timeout: float, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met")


async def run(args, urls: dict[str, str]) -> dict:
    rng = random.Random(42)
    ports = {name: free_port() for name in SERVICES}
    stack = Stack(database_urls=urls, ports=ports, services=["opportunity-svc"], broker_kind=args.broker,
                  extra_env={"KAM_JWKS_JSON": jwks_json_for_tests(), "LOG_LEVEL": "WARNING"})
    admin = {"Authorization": f"Bearer {token_for(uuid.uuid4(), 'admin')}"}
    result: dict = {"bench": "forecast_scale", "broker": args.broker,
                    "database": "postgresql" if postgres_available() else "sqlite"}
    try:
        stack.start()
        bootstrap = stack.bootstrap
        users, reps, units = build_org(rng)
        top = users[0].id
        territories, account_states = build_territories(top, max(20, args.opportunities // 100))
        print(f"publishing {len(users)} users, {len(units)} org units, {len(territories)} territories, "
              f"{len(account_states)} accounts and {args.opportunities} opportunities ...", flush=True)
        await ensure_topics(ServiceSettings(kafka_bootstrap_servers=bootstrap), list(TOPICS.values()))
        await publish(bootstrap, TOPICS["team"], [
            DomainEvent("kam.team.org_unit_created.v1", u.id, 1, OrgUnitCreated(org_unit=u)) for u in units] + [
            DomainEvent("kam.team.territory_created.v1", t.id, 1, TerritoryCreated(territory=t))
            for t in territories] + [
            DomainEvent("kam.team.user_created.v1", u.id, 1, UserCreated(user=u)) for u in users], "/kam/team-svc")
        await publish(bootstrap, TOPICS["account"], [
            DomainEvent("kam.account.created.v1", a.id, 1, AccountCreated(account=a)) for a in account_states],
            "/kam/account-svc")
        start_day = dt.date(2026, 1, 1)
        opportunities = history_events(rng, args.opportunities, reps, start_day, [a.id for a in account_states])
        await publish(bootstrap, TOPICS["opportunity"], opportunities, "/kam/opportunity-svc")
        total_events = len(users) + len(units) + len(territories) + len(account_states) + len(opportunities)

        # (a) one forecast-svc instance catches up on the full topics.
        stack.services.append("forecast-svc")
        started = time.monotonic()
        stack.start_service("forecast-svc")
        http = httpx.AsyncClient(timeout=30)
        fc = stack.url("forecast-svc")

        async def applied() -> int:
            """Events applied so far, from the consumer's own counter (cheap, unlike a roll-up)."""
            try:
                r = await http.get(f"{fc}/v1/admin/consumer", headers=admin)
                return r.json()["events_applied"]
            except (httpx.HTTPError, KeyError, ValueError):
                return 0

        samples: list[tuple[float, int]] = []

        async def caught_up():
            n = await applied()
            samples.append((time.monotonic(), n))
            return n >= total_events

        await wait_until(caught_up, timeout=1800, interval=0.5)
        first = next((t, n) for t, n in samples if n > 0)
        last = samples[-1]
        steady_rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
        result.update(users=len(users), opportunities=len(opportunities), events=total_events,
                      catch_up_s=round(last[0] - started, 1), apply_rate_per_s=round(steady_rate),
                      target_apply_rate_per_s=3000)
        print(f"(a) caught up on {total_events} events in {last[0] - started:.1f}s "
              f"(incl. start-up); steady rate {steady_rate:.0f} events/s", flush=True)

        # (b) the top node's quarter roll-up, read 500 times; the top org unit's and a territory's
        # interleaved with it, so that all three see the same machine load.
        reads: dict[str, list[float]] = {"user": [], "org_unit": [], "territory": []}
        nodes = {"user": top, "org_unit": units[0].id, "territory": territories[1].id}
        for _ in range(500):
            for kind, node in nodes.items():
                t = time.perf_counter()
                r = await http.get(f"{fc}/v1/rollups", params={"node": str(node), "period": QUARTER}, headers=admin)
                reads[kind].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and r.json()["node_kind"] == kind, r.text
        user_p99 = pct(reads["user"], 99)
        result.update(rollup_read_p50_ms=pct(reads["user"], 50), rollup_read_p99_ms=user_p99,
                      target_rollup_read_p99_ms=20,
                      org_unit_read_p99_ms=pct(reads["org_unit"], 99),
                      territory_read_p99_ms=pct(reads["territory"], 99),
                      org_unit_vs_user_p99=round(pct(reads["org_unit"], 99) / max(user_p99, 1e-9), 2),
                      territory_vs_user_p99=round(pct(reads["territory"], 99) / max(user_p99, 1e-9), 2),
                      target_node_vs_user_p99=1.5)
        print(f"(b) top-node {QUARTER} roll-up read: p50 {pct(reads['user'], 50)} ms, p99 {user_p99} ms; "
              f"top org unit p99 {result['org_unit_read_p99_ms']} ms, territory p99 "
              f"{result['territory_read_p99_ms']} ms", flush=True)
        # (b) the top node's prediction for the quarter (the first read fills the per-process caches).
        predictions = []
        for _ in range(201):
            t = time.perf_counter()
            r = await http.get(f"{fc}/v1/predictions", params={"node": str(top), "period": QUARTER}, headers=admin)
            predictions.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
        result.update(prediction_first_ms=round(predictions[0], 1), prediction_p50_ms=pct(predictions[1:], 50),
                      prediction_p99_ms=pct(predictions[1:], 99), target_prediction_p99_ms=300)
        print(f"(b) top-node {QUARTER} prediction: first {predictions[0]:.0f} ms, p50 {pct(predictions[1:], 50)} ms, "
              f"p99 {pct(predictions[1:], 99)} ms", flush=True)

        # (d) what changed since, and the forecast history, at the top node.
        week_ago = (utcnow() - dt.timedelta(days=7)).isoformat()
        views = {"changes_7d": ("/v1/pipeline-changes", {"since": week_ago}),
                 "changes_quarter": ("/v1/pipeline-changes", {"since": QUARTER_START}),
                 "history_day": ("/v1/forecast-history", {"interval": "day"})}
        for name, (path, extra) in views.items():
            times = await timed_reads(http, f"{fc}{path}", {"node": str(top), "period": QUARTER, **extra}, admin,
                                      args.history_reads)
            result.update({f"{name}_p50_ms": pct(times, 50), f"{name}_p99_ms": pct(times, 99),
                           f"target_{name}_p99_ms": 200})
            print(f"(d) top-node {name}: p50 {pct(times, 50)} ms, p99 {pct(times, 99)} ms", flush=True)

        # (c) live stage changes through opportunity-svc.
        op = stack.url("opportunity-svc")
        accounts = [AccountState(id=uuid.uuid4(), name=f"Bench account {i}", owner_id=reps[i], version=1)
                    for i in range(20)]
        await publish(bootstrap, TOPICS["account"], [
            DomainEvent("kam.account.created.v1", a.id, 1, AccountCreated(account=a)) for a in accounts],
            "/kam/account-svc")

        async def create(currency: str) -> dict:
            body = {"account_id": str(rng.choice(accounts).id), "name": "live", "currency": currency,
                    "amount": f"{rng.randrange(10**5, 10**8) / 100:.2f}", "close_date": "2026-11-15",
                    "owner_id": str(rng.choice(reps))}
            for _ in range(100):
                r = await http.post(f"{op}/v1/opportunities", json=body, headers=admin)
                if r.status_code == 201:
                    return r.json()
                await asyncio.sleep(0.1)  # the account replica may still be catching up
            raise RuntimeError(r.text)

        background = [await create("CNY") for _ in range(300)]
        probes = [await create("USD") for _ in range(20)]
        usd_weighted = {p["id"]: Decimal(p["amount"]) * 10 / 100 for p in probes}
        stages = {p["id"]: 1 for p in probes + background}

        async def usd_view() -> str | None:
            params = {"node": str(top), "period": QUARTER, "currency": "USD"}
            try:
                r = await http.get(f"{fc}/v1/rollups", params=params, headers=admin)
            except httpx.RemoteProtocolError:  # the server closed an idle keep-alive connection: retry once
                r = await http.get(f"{fc}/v1/rollups", params=params, headers=admin)
            return r.json().get("weighted_amount")

        expected = f"{sum(usd_weighted.values()):.2f}"
        await wait_until(lambda: _eq(usd_view, expected), timeout=60, interval=0.05)

        stop = asyncio.Event()
        sent = failed = 0

        async def background_load(rate: float = 200.0, workers: int = 16) -> None:
            """Stage changes at `rate` per second from a fixed set of workers, each owning its own
            opportunities (no two requests race on one record). A request is sent at its slot
            time or, when the service falls behind, as soon as its worker is free: the achieved
            rate is what the service sustained."""
            bg_http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=workers))
            begin = time.monotonic()
            slots = iter(range(10**9))

            async def worker(mine: list[dict]) -> None:
                nonlocal sent, failed
                while not stop.is_set():
                    delay = begin + next(slots) / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    opp = rng.choice(mine)
                    stage = rng.choice([s for s in range(1, 8) if s != stages[opp["id"]]])
                    try:
                        r = await bg_http.post(f"{op}/v1/opportunities/{opp['id']}/stage", json={"stage": stage},
                                               headers=admin)
                    except httpx.HTTPError:
                        failed += 1
                        continue
                    if r.status_code == 200:
                        stages[opp["id"]] = stage
                        sent += 1
                    else:
                        failed += 1

            await asyncio.gather(*(worker(background[i::workers]) for i in range(workers)))
            await bg_http.aclose()

        # Where the time goes: a plain subscriber notes when each probe's event reaches the topic.
        on_topic: dict[tuple[str, int], float] = {}
        probe_ids = {p["id"] for p in probes}
        watcher = AIOKafkaConsumer(TOPICS["opportunity"], bootstrap_servers=bootstrap, group_id=None,
                                   auto_offset_reset="latest", fetch_max_wait_ms=5)
        await watcher.start()
        await watcher.seek_to_end()

        async def watch() -> None:
            while not stop.is_set():
                for msgs in (await watcher.getmany(timeout_ms=100)).values():
                    seen = time.perf_counter()
                    for m in msgs:
                        if m.key and m.key.decode() in probe_ids:
                            ce = json.loads(m.value)
                            on_topic[(ce["subject"], ce["sequence"])] = seen

        watching = asyncio.create_task(watch())
        load = asyncio.create_task(background_load(workers=args.workers))
        load_start = time.monotonic()
        latencies, timeouts, to_topic, topic_to_rollup = [], 0, [], []
        for i in range(args.probes):
            probe = probes[i % len(probes)]
            stage = rng.choice([s for s in range(1, 8) if s != stages[probe["id"]]])
            stages[probe["id"]] = stage
            usd_weighted[probe["id"]] = Decimal(probe["amount"]) * PROBABILITY[stage - 1] / 100
            expected = f"{sum(usd_weighted.values()).quantize(Decimal('0.01'))}"
            r = await http.post(f"{op}/v1/opportunities/{probe['id']}/stage", json={"stage": stage}, headers=admin)
            accepted = time.perf_counter()
            assert r.status_code == 200, r.text
            while True:
                if await usd_view() == expected:
                    seen = time.perf_counter()
                    latencies.append((seen - accepted) * 1000)
                    published = on_topic.get((probe["id"], r.json()["version"]))
                    if published is not None:
                        to_topic.append((published - accepted) * 1000)
                        topic_to_rollup.append((seen - published) * 1000)
                    break
                if time.perf_counter() - accepted > 5:
                    timeouts += 1
                    break
        stop.set()
        await load
        await watching
        await watcher.stop()
        achieved = sent / (time.monotonic() - load_start)
        floor = await broker_round_trip(bootstrap)
        result.update(probes=args.probes, change_to_rollup_p50_ms=pct(latencies, 50),
                      change_to_rollup_p99_ms=pct(latencies, 99), change_to_rollup_max_ms=pct(latencies, 100),
                      probe_timeouts=timeouts, background_changes_per_s=round(achieved, 1),
                      background_failures=failed,
                      accepted_to_topic_p50_ms=pct(to_topic, 50) if to_topic else None,
                      accepted_to_topic_p99_ms=pct(to_topic, 99) if to_topic else None,
                      topic_to_rollup_p50_ms=pct(topic_to_rollup, 50) if topic_to_rollup else None,
                      topic_to_rollup_p99_ms=pct(topic_to_rollup, 99) if topic_to_rollup else None,
                      target_change_to_rollup_p99_ms=50, floor_p50_ms=pct(floor, 50), floor_p99_ms=pct(floor, 99))
        await http.aclose()
    finally:
        stack.stop()
    return result


async def _eq(fetch, expected) -> bool:
    return await fetch() == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=200_000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients of the background load")
    parser.add_argument("--history-reads", type=int, default=200, help="reads of each view in (d)")
    add_broker_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    urls, cleanup = stack_database_urls("bench_fscale")  # creates databases: outside the event loop
    try:
        result = asyncio.run(run(args, urls))
    finally:
        cleanup()
    print()
    print(f"{'figure':44} {'value':>12} {'target':>10}")
    rows = [("users / opportunities", f"{result['users']}/{result['opportunities']}", ""),
            ("(a) events applied per second (steady)", result["apply_rate_per_s"], ">= 3000"),
            ("(a) catch-up incl. start-up, s", result["catch_up_s"], ""),
            ("(b) top-node quarter roll-up read p50 ms", result["rollup_read_p50_ms"], ""),
            ("(b) top-node quarter roll-up read p99 ms", result["rollup_read_p99_ms"], "< 20"),
            ("(b) top org unit read p99 ms (x user)", f"{result['org_unit_read_p99_ms']} "
                                                     f"({result['org_unit_vs_user_p99']}x)", "<= 1.5x"),
            ("(b) territory read p99 ms (x user)", f"{result['territory_read_p99_ms']} "
                                                  f"({result['territory_vs_user_p99']}x)", "<= 1.5x"),
            ("(b) top-node prediction first read ms", result["prediction_first_ms"], ""),
            ("(b) top-node prediction p50 / p99 ms", f"{result['prediction_p50_ms']} / "
                                                     f"{result['prediction_p99_ms']}", "< 300"),
            ("(c) stage change -> roll-up p50 ms", result["change_to_rollup_p50_ms"], ""),
            ("(c) stage change -> roll-up p99 ms", result["change_to_rollup_p99_ms"], "< 50"),
            ("(c)   of which accepted -> on topic p50/p99", f"{result['accepted_to_topic_p50_ms']} / "
                                                          f"{result['accepted_to_topic_p99_ms']}", ""),
            ("(c)   of which on topic -> roll-up p50/p99", f"{result['topic_to_rollup_p50_ms']} / "
                                                          f"{result['topic_to_rollup_p99_ms']}", ""),
            ("(c) probe timeouts (5 s)", result["probe_timeouts"], "0"),
            ("(c) background stage changes per s", result["background_changes_per_s"], "200"),
            ("(d) pipeline-changes 7 days p50 / p99 ms", f"{result['changes_7d_p50_ms']} / "
                                                        f"{result['changes_7d_p99_ms']}", "< 200"),
            ("(d) pipeline-changes quarter p50 / p99 ms", f"{result['changes_quarter_p50_ms']} / "
                                                          f"{result['changes_quarter_p99_ms']}", "< 200"),
            ("(d) forecast-history by day p50 / p99 ms", f"{result['history_day_p50_ms']} / "
                                                         f"{result['history_day_p99_ms']}", "< 200"),
            ("broker round trip p50 / p99 ms (floor)", f"{result['floor_p50_ms']} / {result['floor_p99_ms']}", ""),
            ("database", result["database"], "")]
    for name, value, target in rows:
        print(f"{name:44} {value!s:>12} {target:>10}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
