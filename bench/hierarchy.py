"""Hierarchy and territory look-ups in team-svc: is-above, subtree, territory match.

    cd /work/main && .venv/bin/python bench/hierarchy.py [--users 5000] [--levels 7] [--rules 200] [--n 10000]

Starts team-svc as a real process (uvicorn, `kam serve`) with the Tansu broker, on free ports,
on a fresh PostgreSQL database when PostgreSQL answers at 127.0.0.1:5432, else SQLite files
(KAM_TEST_DB=sqlite forces SQLite); stops everything and drops the databases at the end.

Set-up (not timed):
* an organisation of --users people in --levels levels (1 at the top, each level 4× the one
  above it until the last, which takes the rest: 1, 4, 16, 64, 256, 1024, 3635 for 5,000),
  written straight into team-svc's database with the service's own materialised-path function
  (see build_org: the API would take minutes for 5,000 sign-ups on a shared machine);
* through the API: --rules territory rules over 40 territories: named-account rules (20 accounts
  each) first, then region + industry + size band, region + industry, and region-only rules, every
  rule with its own priority (so the rule book is never ambiguous).

Timed, over HTTP with a bearer token, one request in flight at a time (client → uvicorn →
PostgreSQL and back, JSON both ways), --n of each, the four kinds taking turns so they all see
the same machine load; the client is a minimal keep-alive HTTP/1.1 client (httpx alone costs
~2.7 ms a request here, more than what is measured):
* `GET /v1/hierarchy/is-above?superior_id=A&subordinate_id=B`: half the pairs are a person and
  one of their superiors, half random pairs;
* `GET /v1/users/{id}/subtree` for a random person (uniform over the organisation, as if each
  person asked for their own team; most are reps, so most subtrees are small; sizes are reported);
* `POST /v1/territories/match` with a random account profile (10% named accounts, 10% in regions
  no rule knows, so every rule is checked);
* the floor: `GET /healthz`, the same HTTP round trip with no database and no token, on the
  same connection.
Also, in-process against the same database (no HTTP): the is-above and subtree use cases, to show
what the database part costs.

Prints a table, then as its last stdout line one JSON object with the figures and the targets.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.devstack import VAR, Stack, add_broker_option, free_port, measure_broker_round_trip, stack_database_urls

TARGET_P99_MS = 5.0
REGIONS = [f"Region {i:02d}" for i in range(20)]
INDUSTRIES = ["banking", "insurance", "telecom", "utilities", "energy", "healthcare", "manufacturing", "transport",
              "logistics", "retail", "government", "education", "aviation", "media", "construction"]
BANDS = ["small", "medium", "large", "enterprise"]

log = logging.getLogger("bench.hierarchy")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # nearest rank
    return ordered[int(rank) - 1]


def summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"n": len(seconds), "p50": round(pct(seconds, 50) * 1000, 2), "p99": round(pct(seconds, 99) * 1000, 2),
            "max": round(max(seconds) * 1000, 2), "mean": round(statistics.fmean(seconds) * 1000, 2)}


def level_sizes(users: int, levels: int) -> list[int]:
    sizes, total = [], 0
    for level in range(levels - 1):
        size = 4 ** level
        if total + size >= users:
            break
        sizes.append(size)
        total += size
    sizes.append(users - total)
    return sizes


class Client:
    def __init__(self, base: str, token: str | None = None):
        self.http = httpx.AsyncClient(base_url=base, timeout=60,
                                      limits=httpx.Limits(max_connections=16, max_keepalive_connections=16))
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, expect: int = 200, **kw) -> dict:
        resp = await self.http.request(method, path, headers=self.headers, **kw)
        if resp.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()


async def build_org(url: str, sizes: list[int]) -> tuple[list[str], dict[str, str]]:
    """Level by level, parents before children, each person's superior picked round-robin.

    Written straight into team-svc's database with the service's own path function
    (team_svc.common.paths): the write path is not what this bench measures, and through the API
    5,000 sign-ups take minutes on a shared machine. The rows are exactly what POST /v1/users
    stores (minus the user_created events, which nothing here reads)."""
    from argon2 import PasswordHasher
    from sqlalchemy import insert

    from kam_shared.db import make_engine
    from kam_shared.events import utcnow
    from team_svc.common import paths
    from team_svc.common.models import users

    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("bench-password")
    superior: dict[str, str] = {}
    path_of: dict[str, str] = {}
    rows: list[dict] = []
    previous: list[str] = []
    everyone: list[str] = []
    now = utcnow()
    for level, size in enumerate(sizes):
        role = "rep" if level == len(sizes) - 1 else "manager"
        created = []
        for i in range(size):
            user_id = uuid.uuid4()
            boss = previous[i % len(previous)] if previous else None
            path = paths.path_of(user_id, path_of[boss] if boss else None)
            rows.append(dict(id=user_id, email=f"u{level}.{i}.{user_id.hex[:6]}@bench.kam", name=f"L{level + 1} #{i}",
                             role=role, superior_id=uuid.UUID(boss) if boss else None, password_hash=password_hash,
                             active=True, version=1, created_at=now, updated_at=now, path=path))
            path_of[str(user_id)] = path
            if boss:
                superior[str(user_id)] = boss
            created.append(str(user_id))
        everyone += created
        previous = created
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                await conn.execute(insert(users), rows[start:start + 1000])
    finally:
        await engine.dispose()
    return everyone, superior


async def build_rules(api: Client, owners: list[str], rules: int, rng: random.Random) -> list[str]:
    """40 territories; rules with distinct priorities. Returns the named account ids."""
    named: list[str] = []
    per_territory = max(1, -(-rules // 40))
    priority = 0
    plan: list[list[dict]] = []
    for _territory in range(40):
        bodies = []
        for _ in range(per_territory):
            if priority >= rules:
                break
            priority += 1
            share = priority / rules
            if share <= 0.1:
                accounts = [str(uuid.uuid4()) for _ in range(20)]
                named += accounts
                body = {"account_ids": accounts}
            elif share <= 0.6:
                body = {"regions": rng.sample(REGIONS, 2), "industries": rng.sample(INDUSTRIES, 2),
                        "size_bands": rng.sample(BANDS, 2)}
            elif share <= 0.9:
                body = {"regions": rng.sample(REGIONS, 1), "industries": rng.sample(INDUSTRIES, 3)}
            else:
                body = {"regions": rng.sample(REGIONS, 1)}
            bodies.append({"name": f"rule {priority}", "priority": priority, **body})
        plan.append(bodies)
    for t, bodies in enumerate(plan):
        if bodies:
            await api.call("POST", "/v1/territories", 201, json={
                "name": f"Territory {t:02d}", "owner_id": owners[t % len(owners)], "rules": bodies})
    return named


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the timed requests. httpx costs ~2.7 ms a request
    on its own on this machine (GET /healthz: p50 3.2 ms through httpx, 0.5 ms like this), which
    would swamp what is measured; set-up still uses httpx."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> "RawHttp":
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, target: str, body: dict | None = None, auth: bool = True) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n" + (self.auth if auth else "")
                + (f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n" if body is not None else "")
                + "\r\n")
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        chunks = []
        while True:  # chunked
            size = int((await self.reader.readline()).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(chunk[:-2])

    async def close(self) -> None:
        self.writer.close()


def ancestors_of(user: str, superior: dict[str, str]) -> list[str]:
    chain = []
    while user in superior:
        user = superior[user]
        chain.append(user)
    return chain


async def timed(raw: RawHttp, samples: list[float], method: str, target: str, body: dict | None = None,
                auth: bool = True) -> dict:
    start = time.perf_counter()
    status, payload = await raw.request(method, target, body, auth)
    samples.append(time.perf_counter() - start)
    if status != 200:
        raise RuntimeError(f"{method} {target} answered {status}: {payload[:300]!r}")
    return json.loads(payload)


async def measure(stack: Stack, args, results: dict) -> None:
    rng = random.Random(args.seed)
    base = stack.url("team-svc")
    anon = Client(base)
    token = (await anon.http.post("/v1/auth/token", data={"username": DEV_ADMIN_EMAIL,
                                                            "password": DEV_ADMIN_PASSWORD}))
    api = Client(base, token.json()["access_token"])
    sizes = level_sizes(args.users, args.levels)
    print(f"building {args.users} people in {len(sizes)} levels {sizes} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    users, superior = await build_org(stack.database_urls["team-svc"], sizes)
    managers = users[:sum(sizes[:-1])]  # everyone above the last level
    print(f"building {args.rules} territory rules ...", file=sys.stderr, flush=True)
    named = await build_rules(api, managers, args.rules, rng)
    results["setup_s"] = round(time.monotonic() - t0, 1)
    non_root = [u for u in users if u in superior]

    # warm-up: connections, caches, the rule book
    for _ in range(200):
        await api.http.get(f"/v1/users/{rng.choice(users)}/subtree", headers=api.headers)
        await api.http.post("/v1/territories/match", headers=api.headers, json={"region": rng.choice(REGIONS)})

    host, port = base.removeprefix("http://").split(":")
    raw = await RawHttp(host, int(port), token.json()["access_token"]).open()
    for _ in range(200):  # warm the lean client's connection too
        await raw.request("GET", "/healthz", auth=False)
    print(f"timing {args.n} each of is-above, subtree, territory match (interleaved, with the floor) ...",
          file=sys.stderr, flush=True)
    floor: list[float] = []
    is_above: list[float] = []
    subtree: list[float] = []
    matches: list[float] = []
    sizes_seen: list[int] = []
    checked_true = matched = 0
    for i in range(args.n):
        # The four kinds take turns, so each sees the same machine load.
        await timed(raw, floor, "GET", "/healthz", auth=False)
        sub = rng.choice(non_root)
        sup = rng.choice(ancestors_of(sub, superior)) if i % 2 == 0 else rng.choice(users)
        body = await timed(raw, is_above, "GET", f"/v1/hierarchy/is-above?superior_id={sup}&subordinate_id={sub}")
        checked_true += body["is_above"]
        if i % 2 == 0 and not body["is_above"]:
            raise AssertionError(f"{sup} is above {sub} but the service said no")
        body = await timed(raw, subtree, "GET", f"/v1/users/{rng.choice(users)}/subtree")
        sizes_seen.append(body["count"])
        roll = rng.random()
        if roll < 0.1:
            profile = {"account_id": rng.choice(named), "region": rng.choice(REGIONS)}
        elif roll < 0.2:
            profile = {"region": f"Unknown {rng.randrange(100)}", "industry": rng.choice(INDUSTRIES)}
        else:
            profile = {"region": rng.choice(REGIONS), "industry": rng.choice(INDUSTRIES),
                       "employees": rng.choice([20, 300, 4000, 50_000])}
        body = await timed(raw, matches, "POST", "/v1/territories/match", profile)
        matched += body["matched"]
        if i and i % 2500 == 0:
            print(f"  {i} rounds", file=sys.stderr, flush=True)
    await raw.close()

    results.update(is_above=summary(is_above), subtree=summary(subtree), match=summary(matches), floor=summary(floor),
                   is_above_true=checked_true, matched=matched,
                   subtree_sizes={"p50": pct(sizes_seen, 50), "p99": pct(sizes_seen, 99), "max": max(sizes_seen)})
    await api.http.aclose()
    await anon.http.aclose()


async def measure_in_process(url: str, users: list[str], n: int, seed: int, results: dict) -> None:
    """The same two look-ups through the use cases on the same database, without HTTP."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from kam_shared.db import make_engine
    from team_svc.users.service import is_above_answer, subtree

    rng = random.Random(seed)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    ids = [uuid.UUID(u) for u in users]
    above, below = [], []
    try:
        async with sessions() as session:
            for _ in range(n):
                a, b = rng.choice(ids), rng.choice(ids)
                start = time.perf_counter()
                await is_above_answer(session, a, b)
                above.append(time.perf_counter() - start)
            for _ in range(n):
                start = time.perf_counter()
                await subtree(session, rng.choice(ids), include_inactive=False, max_depth=None)
                below.append(time.perf_counter() - start)
    finally:
        await engine.dispose()
    results["in_process"] = {"is_above": summary(above), "subtree": summary(below)}


async def user_ids(base: str) -> list[str]:
    anon = Client(base)
    token = (await anon.http.post("/v1/auth/token", data={"username": DEV_ADMIN_EMAIL,
                                                            "password": DEV_ADMIN_PASSWORD}))
    api = Client(base, token.json()["access_token"])
    out, cursor = [], None
    while True:
        page = await api.call("GET", "/v1/users", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        out += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    await api.http.aclose()
    await anon.http.aclose()
    return out


def report(results: dict, args) -> dict:
    rows = [("is-above (HTTP)", results["is_above"]), ("subtree (HTTP)", results["subtree"]),
            ("territory match (HTTP)", results["match"]), ("floor: GET /healthz", results["floor"]),
            ("is-above (in-process)", results["in_process"]["is_above"]),
            ("subtree (in-process)", results["in_process"]["subtree"])]
    print()
    print(f"team-svc hierarchy bench — {results['database']}, {args.users} users in {args.levels} levels, "
          f"{args.rules} territory rules (set-up {results['setup_s']} s), {os.cpu_count()} CPUs, "
          f"load average {' → '.join(f'{x:.2f}' for x in results['load'])}")
    print(f"{'':26} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}")
    for name, s in rows:
        print(f"{name:26} {s['n']:>6} {s['p50']:>8} {s['p99']:>8} {s['max']:>8} {s['mean']:>8}")
    sizes = results["subtree_sizes"]
    print(f"subtree sizes returned: p50 {sizes['p50']}, p99 {sizes['p99']}, max {sizes['max']} people; "
          f"is-above true {results['is_above_true']}/{args.n}; matches found {results['matched']}/{args.n}")
    verdict = all(results[k]["p99"] < TARGET_P99_MS for k in ("is_above", "subtree", "match"))
    print(f"target p99 < {TARGET_P99_MS} ms for each (HTTP): {'met' if verdict else 'NOT met'}")
    return {"bench": "hierarchy", "database": results["database"], "mode": "http", "users": args.users,
            "levels": args.levels, "rules": args.rules, "n": args.n,
            "is_above_p50_ms": results["is_above"]["p50"], "is_above_p99_ms": results["is_above"]["p99"],
            "subtree_p50_ms": results["subtree"]["p50"], "subtree_p99_ms": results["subtree"]["p99"],
            "match_p50_ms": results["match"]["p50"], "match_p99_ms": results["match"]["p99"],
            "floor_p50_ms": results["floor"]["p50"], "floor_p99_ms": results["floor"]["p99"],
            "in_process_is_above_p99_ms": results["in_process"]["is_above"]["p99"],
            "in_process_subtree_p99_ms": results["in_process"]["subtree"]["p99"],
            "subtree_size_p99": sizes["p99"], "load_1m": [round(x, 2) for x in results["load"]],
            "cpus": os.cpu_count(), "target_p99_ms": TARGET_P99_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--levels", type=int, default=7)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--n", type=int, default=10_000, help="requests of each kind")
    parser.add_argument("--in-process-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20260401)
    add_broker_option(parser)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    urls, drop = stack_database_urls("bench")
    database = "postgresql" if urls["team-svc"].startswith("postgresql") else "sqlite"
    run_dir = VAR / "bench" / f"hierarchy-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    # Set-up creates thousands of users: cheap argon2 parameters for them (hashes carry their own),
    # and no sign-in limits for the bench's one client address.
    stack = Stack(database_urls=urls, ports={"team-svc": free_port()}, services=["team-svc"],
                  log_dir=run_dir / "log", broker_kind=args.broker,
                  extra_env={"KAM_PASSWORD_TIME_COST": "1", "KAM_PASSWORD_MEMORY_KIB": "1024",
                             "KAM_PASSWORD_PARALLELISM": "1", "LOG_LEVEL": "WARNING"})
    results: dict = {"database": database}
    ok = False
    try:
        print(f"starting the broker and team-svc ({database}; logs in {run_dir / 'log'}) ...", file=sys.stderr,
              flush=True)
        stack.start()
        results["load"] = [os.getloadavg()[0]]
        asyncio.run(measure(stack, args, results))
        results["load"].append(os.getloadavg()[0])
        ids = asyncio.run(user_ids(stack.url("team-svc")))
        asyncio.run(measure_in_process(urls["team-svc"], ids, args.in_process_n, args.seed, results))
        results["broker_floor"] = measure_broker_round_trip(stack)
        ok = True
    finally:
        stack.stop()
        drop()
        if database == "sqlite":
            shutil.rmtree(Path(urls["team-svc"].removeprefix("sqlite+aiosqlite:///")).parent, ignore_errors=True)
        (run_dir / "team-svc-jwt.pem").unlink(missing_ok=True)
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
    figures = {**report(results, args), **results["broker_floor"]}
    sys.stdout.flush()
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
