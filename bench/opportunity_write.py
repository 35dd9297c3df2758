"""Opportunity writes: opportunity-svc's throughput beside a minimal app's on the same database.

    cd /work/main && .venv/bin/python bench/opportunity_write.py [--opportunities 400] [--stage-changes 2]
                                                               [--concurrency 8] [--rounds 3]

Starts the Tansu broker, team-svc, account-svc and opportunity-svc as processes on free ports (fresh
PostgreSQL databases when PostgreSQL answers at 127.0.0.1:5432, else SQLite files; KAM_TEST_DB=sqlite
forces SQLite), and the floor, bench/_minimal_app.py: FastAPI + SQLAlchemy, one INSERT per request, no
auth, no outbox, served by uvicorn like the services, on opportunity-svc's own database (its own table).
Stops everything and drops the databases at the end.

What is measured, per target and round:

* the workload: --opportunities × (one `POST /v1/opportunities`, then --stage-changes
  `POST /v1/opportunities/{id}/stage` moving it forward), run by --concurrency workers over keep-alive
  connections; each worker runs one opportunity's requests in order;
* ours: a rep's bearer token (issued by team-svc), real accounts; every request authenticated,
  authorised against the hierarchy replica, validated, written with its stage history and its outbox
  event in one transaction, and the outbox relay publishes to the broker meanwhile;
* the floor: the same requests (same bodies, same headers) to the minimal app;
* throughput = requests / wall time of the round. The targets alternate within each round, and the
  round's own order alternates, so both see the same machine; the best round of each is reported
  (the machine is shared: the best round is the one least disturbed), and the median beside it.

Prints a table, then as its last stdout line one JSON object with the figures and the target
(ours at least 1.0 × the floor's throughput).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kam_shared.devstack import (
    VAR,
    Stack,
    _stop,
    add_broker_option,
    free_port,
    measure_broker_round_trip,
    stack_database_urls,
    wait_port,
)
from kam_shared.services import SERVICES

TARGET_RATIO = 1.0
PASSWORD = "tiger-lamp-river-7"  # the policy: 12+ characters, not the user's name or email
SERVICES_STARTED = ["team-svc", "account-svc", "opportunity-svc"]
MINIMAL_APP = Path(__file__).resolve().parent / "_minimal_app.py"

log = logging.getLogger("bench.opportunity_write")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass
class Round:
    target: str
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def run_workload(client: httpx.AsyncClient, base: str, headers: dict, bodies: list[dict], stage_changes: int,
                       concurrency: int, target: str) -> Round:
    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []

    async def call(path: str, payload: dict, expect: int) -> dict:
        t0 = time.perf_counter()
        resp = await client.post(base + path, json=payload, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if resp.status_code != expect:
            raise RuntimeError(f"{target}: POST {path} → {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    async def worker() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            created = await call("/v1/opportunities", body, 201)
            for stage in range(2, 2 + stage_changes):
                await call(f"/v1/opportunities/{created['id']}/stage", {"stage": stage}, 200)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - t0
    return Round(target, len(latencies), seconds, latencies)


async def measure(stack: Stack, floor_url: str, args) -> list[Round]:
    limits = httpx.Limits(max_keepalive_connections=args.concurrency, max_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        team, accounts = stack.url("team-svc"), stack.url("account-svc")

        async def token(email: str, password: str) -> str:
            resp = await client.post(f"{team}/v1/auth/token", data={"username": email, "password": password})
            resp.raise_for_status()
            return resp.json()["access_token"]

        admin = {"Authorization": f"Bearer {await token('admin@example.com', 'kam-dev-passphrase')}"}
        tag = uuid.uuid4().hex[:8]
        resp = await client.post(f"{team}/v1/users", headers=admin, json=dict(
            email=f"bench-rep-{tag}@example.com", name="Bench Rep", role="rep", password=PASSWORD))
        resp.raise_for_status()
        rep = resp.json()
        rep_headers = {"Authorization": f"Bearer {await token(rep['email'], PASSWORD)}"}
        account_ids = []
        for i in range(5):
            resp = await client.post(f"{accounts}/v1/accounts", headers=admin,
                                     json=dict(name=f"Bench Account {tag} {i}", owner_id=rep["id"]))
            resp.raise_for_status()
            account_ids.append(resp.json()["id"])

        def bodies(n: int, label: str) -> list[dict]:
            return [dict(account_id=account_ids[i % len(account_ids)], name=f"Bench {label} {i}",
                         amount=f"{10000 + i}.00", currency="CNY", close_date="2026-12-15", owner_id=rep["id"])
                    for i in range(n)]

        ours = stack.url("opportunity-svc")
        targets = {"opportunity-svc": ours, "minimal app (floor)": floor_url}
        # Warm-up (connections, caches, the account replica): not measured.
        for name, base in targets.items():
            await run_workload(client, base, rep_headers, bodies(20, "warm-up"), args.stage_changes,
                               args.concurrency, name)
        rounds: list[Round] = []
        for r in range(args.rounds):
            order = list(targets.items()) if r % 2 == 0 else list(targets.items())[::-1]
            for name, base in order:
                result = await run_workload(client, base, rep_headers, bodies(args.opportunities, f"r{r}"),
                                            args.stage_changes, args.concurrency, name)
                rounds.append(result)
                print(f"  round {r + 1}/{args.rounds} {name:20} {result.requests} requests in "
                      f"{result.seconds:6.2f} s = {result.rps:7.1f} req/s", file=sys.stderr, flush=True)
                await asyncio.sleep(1.0)  # let the relay drain the outbox between rounds
        # Ours really wrote them: the rep sees every opportunity created.
        count, cursor = 0, None
        while True:
            page = (await client.get(f"{ours}/v1/opportunities", headers=rep_headers,
                                     params={"limit": 1000, **({"cursor": cursor} if cursor else {})})).json()
            count += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        expected = (args.rounds * args.opportunities) + 20
        if count != expected:
            raise RuntimeError(f"opportunity-svc holds {count} opportunities of the rep, expected {expected}")
        return rounds


def start_floor(url: str, log_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAM_", "KAFKA_", "DATABASE_URL"))}
    env.update(DATABASE_URL=url, PORT=str(port), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(MINIMAL_APP)], env=env, cwd=MINIMAL_APP.parent.parent,
                            stdout=open(log_dir / "minimal-app.log", "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_port("127.0.0.1", port, timeout=30)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the minimal app did not start; see minimal-app.log")


def report(rounds: list[Round], args, database: str) -> dict:
    by_target: dict[str, list[Round]] = {}
    for r in rounds:
        by_target.setdefault(r.target, []).append(r)
    rows = []
    for name, rs in by_target.items():
        lat = [x for r in rs for x in r.latencies]
        rows.append((name, max(r.rps for r in rs), statistics.median(r.rps for r in rs),
                     pct(lat, 50) * 1000, pct(lat, 99) * 1000))
    ours, floor = rows[0], rows[1]
    ratio, ratio_median = ours[1] / floor[1], ours[2] / floor[2]
    print()
    print(f"opportunity writes — {args.rounds} rounds × {args.opportunities} opportunities × "
          f"(1 create + {args.stage_changes} stage changes), {args.concurrency} concurrent clients, "
          f"database {database}")
    print(f"{'target':22} {'best req/s':>11} {'median req/s':>13} {'p50 ms':>8} {'p99 ms':>8}")
    for name, best, median, p50, p99 in rows:
        print(f"{name:22} {best:11.1f} {median:13.1f} {p50:8.2f} {p99:8.2f}")
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio ours / floor: best {ratio:.2f}, median {ratio_median:.2f}; target ≥ {TARGET_RATIO:.1f}: {verdict}")
    return {"bench": "opportunity_write", "database": database, "requests_per_round": rounds[0].requests,
            "rounds": args.rounds, "concurrency": args.concurrency,
            "ours_rps": round(ours[1], 1), "ours_rps_median": round(ours[2], 1),
            "ours_p50_ms": round(ours[3], 2), "ours_p99_ms": round(ours[4], 2),
            "floor_rps": round(floor[1], 1), "floor_rps_median": round(floor[2], 1),
            "floor_p50_ms": round(floor[3], 2), "floor_p99_ms": round(floor[4], 2),
            "ratio": round(ratio, 3), "ratio_median": round(ratio_median, 3), "target_ratio": TARGET_RATIO}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opportunities", type=int, default=400)
    parser.add_argument("--stage-changes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    add_broker_option(parser)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    urls, drop = stack_database_urls("bench")
    database = "postgresql" if all(u.startswith("postgresql") for u in urls.values()) else "sqlite"
    run_dir = VAR / "bench" / f"opportunity_write-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    stack = Stack(database_urls=urls, ports={name: free_port() for name in SERVICES}, log_dir=run_dir / "log",
                  services=SERVICES_STARTED, broker_kind=args.broker)
    floor_proc = None
    try:
        print(f"starting broker, {', '.join(SERVICES_STARTED)} and the minimal app ({database}; logs in "
              f"{run_dir / 'log'}) ...", file=sys.stderr, flush=True)
        stack.start()
        floor_proc, floor_url = start_floor(urls["opportunity-svc"], stack.log_dir)
        rounds = asyncio.run(measure(stack, floor_url, args))
        broker_floor = measure_broker_round_trip(stack)
    finally:
        _stop(floor_proc)
        stack.stop()
        drop()
        if database == "sqlite":
            shutil.rmtree(Path(next(iter(urls.values())).removeprefix("sqlite+aiosqlite:///")).parent,
                          ignore_errors=True)
        (run_dir / "team-svc-jwt.pem").unlink(missing_ok=True)
    figures = {**report(rounds, args, database), **broker_floor}
    sys.stdout.flush()
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
