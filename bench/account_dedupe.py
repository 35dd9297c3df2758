"""Account uniqueness at scale: duplicate checks and creates-with-the-check over 100,000 accounts.

    cd /work/main && .venv/bin/python bench/account_dedupe.py [--accounts 100000] [--checks 1000] [--creates 1000]

Starts what it needs on free ports: a fresh database (PostgreSQL when one answers at 127.0.0.1:5432,
else SQLite; KAM_TEST_DB=sqlite forces SQLite), migrated by Alembic, the Tansu broker and account-svc
as a real process (uvicorn, as `kam serve` runs it). Stops everything and drops the database at the end.

What is measured, one request in flight at a time, over HTTP from this process:

* the load: --accounts generated accounts (Chinese and English names, 60% with a valid unified social
  credit code, owned by 20 reps under one manager) are written straight into the database, each with
  the normalised name the service computes (loading 100,000 through the API would time the loader,
  not the check), then ANALYZEd;
* duplicate checks: `GET /v1/accounts/duplicates?name=&region=[&credit_code=]` for --checks probes, half
  of them variants of loaded accounts (another legal form, full-width letters, a dropped city prefix,
  one character changed; a quarter also with the account's credit code), half new names;
* creates with the check: `POST /v1/accounts` of --creates new accounts (half with a credit code) by a rep,
  each running the uniqueness check (credit code and normalised-name lookups) before the insert and
  its outbox row; every answer must be 201;
* the floor, interleaved with both so it sees the same machine load: `GET /v1/accounts/{id}` of a loaded
  account by its owner — the same service, auth and visibility check and one primary-key read;
* context: the account-svc process's CPU time per request (from /proc), and the duplicate checks' database
  share — the same probes through the service's query code, without HTTP or the app.

Prints a table, then as its last stdout line one JSON object with the figures and the target (p99 < 25 ms).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from account_svc.accounts.domain.credit_code import generate as generate_credit_code
from account_svc.accounts.domain.names import normalise
from account_svc.accounts.models import accounts as accounts_table
from kam_shared.devstack import VAR, Stack, add_broker_option, free_port, measure_broker_round_trip
from kam_shared.events import utcnow
from kam_shared.figures import summary
from kam_shared.migrations import upgrade_async
from kam_shared.services import SERVICES
from kam_shared.testing import fresh_database, jwks_json_for_tests, token_for

TARGET_P99_MS = 25
log = logging.getLogger("bench.account_dedupe")

CITIES = ["北京", "上海", "广州", "深圳市", "天津", "重庆", "杭州", "南京", "武汉", "成都",
          "西安", "苏州", "厦门", "青岛", "大连", "宁波", "长沙", "郑州", "济南", "合肥",
          "福州", "昆明", "沈阳", "哈尔滨", "石家庄", "南宁", "贵阳", "太原"]
HANZI = ("华中国金银信达通海天星宏远东方恒大新长城安泰盛世永和光明联合创兴科建工商农汇丰美"
         "嘉利德隆昌瑞祥鑫源博鸿泽凯旭升腾飞龙凤环宇智慧云数码网络电子电气机械化学医药生物"
         "能源电力交通物流航运港口置业地产投资控股")
INDUSTRIES = ["科技", "电子", "银行", "证券", "保险", "电力", "能源", "物流", "医药", "化工",
              "机械", "汽车", "钢铁", "建设", "通信", "软件", "食品", "纺织", "航空", "港务",
              "矿业", "环保", "传媒", "贸易", "制药", "水务"]
CN_FORMS = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "集团"]
SYLLABLES = ["ab", "ac", "al", "an", "ar", "ba", "be", "bo", "ca", "ce", "co", "da", "de", "do", "el", "en", "er", "fa",
             "fi", "ga", "ge", "go", "ha", "he", "in", "ka", "ke", "la", "le", "lo", "ma", "me", "mo", "na", "ne", "no",
             "or", "pa", "pe", "ra", "re", "ro", "sa", "se", "so", "ta", "te", "to", "tra", "tri", "va", "ve", "vi",
             "xa", "xe", "yo", "za", "ze", "zo", "lix", "tex", "tron", "gen", "vex", "quo", "nix"]
EN_WORDS = ["Systems", "Logistics", "Energy", "Pharma", "Holdings", "Electronics", "Bank", "Insurance", "Motors",
            "Foods", "Textiles", "Airlines", "Shipping", "Mining", "Chemicals", "Software", "Networks", "Capital",
            "Industries", "Technologies", "Materials", "Healthcare", "Retail", "Media"]
EN_FORMS = ["Co., Ltd.", "Inc.", "LLC", "Corporation", "Limited", "Corp.", "Group", "PLC", ""]
REGIONS = ["North", "South", "East", "West", "Central"]


# ---------------------------------------------------------------------------------------------
# generated names

class Names:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.keys: set[str] = set()

    def _chinese(self) -> str:
        r = self.rng
        brand = "".join(r.choice(HANZI) for _ in range(r.choice((2, 2, 3))))
        return f"{r.choice(CITIES)}{brand}{r.choice(INDUSTRIES)}{r.choice(CN_FORMS)}"

    def _english(self) -> str:
        r = self.rng
        brand = "".join(r.choice(SYLLABLES) for _ in range(r.choice((2, 3, 3)))).capitalize()
        return f"{brand} {r.choice(EN_WORDS)} {r.choice(EN_FORMS)}".strip()

    def new(self) -> str:
        """A name whose normalised key no account has yet."""
        while True:
            name = self._chinese() if self.rng.random() < 0.6 else self._english()
            key = normalise(name)
            if key not in self.keys:
                self.keys.add(key)
                return name

    def variant(self, name: str) -> str:
        """How the same company arrives a second time."""
        r = self.rng
        kind = r.randrange(4)
        if kind == 0:  # another legal form, case or width: the same normalised key
            base = name
            for form in sorted(CN_FORMS + [f for f in EN_FORMS if f], key=len, reverse=True):
                if name.endswith(form):
                    base = name[: -len(form)].rstrip()
                    break
            if not name.isascii():
                return base + r.choice(CN_FORMS)
            other = f"{base.upper()} {r.choice(EN_FORMS[:-1])}"
            return other.translate(FULL_WIDTH) if r.random() < 0.5 else other
        if kind == 1:  # city prefix dropped
            for city in CITIES:
                if name.startswith(city):
                    return name[len(city):]
            return name.replace(" ", "", 1)
        if kind == 2:  # one character changed
            i = r.randrange(1, max(2, len(name) - 4))
            return name[:i] + (r.choice(HANZI) if not name.isascii() else r.choice("aeiou")) + name[i + 1:]
        return f"{name} ({r.choice(CITIES)}分公司)" if not name.isascii() else f"{name} Beijing Branch"


FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


# ---------------------------------------------------------------------------------------------
# figures

# pct and summary: kam_shared.figures (shared with the other benchmarks)


# ---------------------------------------------------------------------------------------------
# the run

async def load(url: str, n: int, rng: random.Random, names: Names, reps: list[uuid.UUID],
               manager: uuid.UUID) -> list[dict]:
    engine = create_async_engine(url)
    loaded = []
    now = utcnow()
    try:
        async with engine.begin() as conn:
            users = [dict(id=manager, email="bench-manager@bench.test", name="Bench Manager", role="manager",
                          superior_id=None, active=True, version=1)]
            users += [dict(id=r, email=f"rep{i}@bench.test", name=f"Rep {i}", role="rep", superior_id=manager,
                           active=True, version=1) for i, r in enumerate(reps)]
            await conn.execute(text("INSERT INTO user_replica (id, email, name, role, superior_id, active, version) "
                                    "VALUES (:id, :email, :name, :role, :superior_id, :active, :version)"), users)
        batch = []
        for i in range(n):
            name = names.new()
            row = dict(id=uuid.uuid4(), name=name, normalized_name=normalise(name),
                       credit_code=generate_credit_code(rng) if rng.random() < 0.6 else None,
                       region=rng.choice(REGIONS), owner_id=rng.choice(reps), version=1, created_at=now,
                       updated_at=now, status="active", currency="CNY", centralised_purchasing=False,
                       phones=[], addresses=[], strategic_flags=[])
            batch.append(row)
            loaded.append({k: row[k] for k in ("id", "name", "credit_code", "region", "owner_id")})
            if len(batch) == 5000 or i == n - 1:
                async with engine.begin() as conn:
                    await conn.execute(insert(accounts_table), batch)
                batch = []
                if (i + 1) % 20000 == 0:
                    print(f"  loaded {i + 1}/{n}", file=sys.stderr, flush=True)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE accounts" if url.startswith("postgresql") else "ANALYZE"))
    finally:
        await engine.dispose()
    return loaded


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): the service's own work per request,
    which the machine's other load inflates much less than wall-clock latency."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(base: str, args, loaded: list[dict], names: Names, rng: random.Random,
                  reps: list[uuid.UUID], pid: int | None) -> dict:
    results = {"checks": [], "creates": [], "floor": [], "check_hits": 0, "check_candidates": 0, "cpu_ms": {},
               "probes": []}
    cpu = (lambda: cpu_seconds(pid)) if pid and Path(f"/proc/{pid}/stat").exists() else None
    tokens = {r: {"Authorization": f"Bearer {token_for(r, 'rep')}"} for r in reps}
    caller = reps[0]
    own = [a for a in loaded if a["owner_id"] == caller]
    limits = httpx.Limits(max_keepalive_connections=4, max_connections=4)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        async def floor_once() -> None:
            target = rng.choice(own)
            t0 = time.perf_counter()
            resp = await client.get(f"/v1/accounts/{target['id']}", headers=tokens[caller])
            results["floor"].append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.text

        for _ in range(20):  # warm up connections and caches; not recorded
            await floor_once()
        results["floor"].clear()
        floor_only = 200
        c0 = cpu() if cpu else 0.0
        for _ in range(floor_only):
            await floor_once()
        floor_cpu = (cpu() - c0) / floor_only if cpu else 0.0
        c0 = cpu() if cpu else 0.0

        for i in range(args.checks):
            if i % 2 == 0:
                source = rng.choice(loaded)
                params = {"name": names.variant(source["name"]), "region": source["region"]}
                if source["credit_code"] and rng.random() < 0.5:
                    params["credit_code"] = source["credit_code"]
            else:
                source, params = None, {"name": names.new(), "region": rng.choice(REGIONS)}
            results["probes"].append(params)
            t0 = time.perf_counter()
            resp = await client.get("/v1/accounts/duplicates", params=params, headers=tokens[caller])
            results["checks"].append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.text
            found = resp.json()["candidates"]
            results["check_candidates"] += len(found)
            if source is not None and any(c["id"] == str(source["id"]) for c in found):
                results["check_hits"] += 1
            await floor_once()

        if cpu:
            c1 = cpu()
            results["cpu_ms"]["check"] = (c1 - c0 - args.checks * floor_cpu) / args.checks * 1000
            c0 = c1
        for i in range(args.creates):
            body = {"name": names.new(), "region": rng.choice(REGIONS), "industry": "bench"}
            if i % 2 == 0:
                body["credit_code"] = generate_credit_code(rng)
            t0 = time.perf_counter()
            resp = await client.post("/v1/accounts", json=body, headers=tokens[caller])
            results["creates"].append(time.perf_counter() - t0)
            assert resp.status_code == 201, resp.text
            await floor_once()
        if cpu:
            results["cpu_ms"]["create"] = (cpu() - c0 - args.creates * floor_cpu) / args.creates * 1000
            results["cpu_ms"]["floor"] = floor_cpu * 1000
    return results


async def sql_only(url: str, probes: list[dict]) -> list[float]:
    """The same duplicate checks straight through the service's query code (no HTTP, no app): the
    database's share of a check."""
    from types import SimpleNamespace

    from sqlalchemy.ext.asyncio import async_sessionmaker

    from account_svc.accounts.domain.accounts import clean_profile
    from account_svc.accounts.service import find_candidates

    engine = create_async_engine(url)
    runtime = SimpleNamespace(pg_trgm=None)  # what AccountRuntime caches
    samples = []
    try:
        sessions = async_sessionmaker(engine)
        for params in probes:
            probe = clean_profile(dict(params))
            t0 = time.perf_counter()
            async with sessions() as session:
                await find_candidates(session, runtime, probe, limit=10)
            samples.append(time.perf_counter() - t0)
    finally:
        await engine.dispose()
    return samples


async def run(args) -> tuple[dict, str]:
    rng = random.Random(args.seed)
    names = Names(rng)
    manager, reps = uuid.uuid4(), [uuid.uuid4() for _ in range(20)]
    run_dir = VAR / "bench" / f"account_dedupe-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    async with fresh_database("bench-account") as url:
        database = "postgresql" if url.startswith("postgresql") else "sqlite"
        print(f"database {database}: migrating and loading {args.accounts} accounts ...", file=sys.stderr, flush=True)
        await upgrade_async(SERVICES["account-svc"].dir, url)
        t0 = time.perf_counter()
        loaded = await load(url, args.accounts, rng, names, reps, manager)
        load_s = time.perf_counter() - t0
        trigram = False
        if database == "postgresql":
            engine = create_async_engine(url)
            async with engine.connect() as conn:
                trigram = bool(await conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")))
            await engine.dispose()
        stack = Stack(database_urls={"account-svc": url}, ports={name: free_port() for name in SERVICES},
                      services=["account-svc"], log_dir=run_dir / "log", broker_kind=args.broker,
                      extra_env={"KAM_JWKS_JSON": jwks_json_for_tests(), "LOG_LEVEL": "WARNING"})
        try:
            print(f"loaded in {load_s:.1f}s; starting broker and account-svc (logs in {run_dir / 'log'}) ...",
                  file=sys.stderr, flush=True)
            await asyncio.to_thread(stack.start)
            pid = stack.procs["account-svc"].pid
            results = await measure(stack.url("account-svc"), args, loaded, names, rng, reps, pid)
            results["broker_floor"] = await asyncio.to_thread(measure_broker_round_trip, stack)
        finally:
            await asyncio.to_thread(stack.stop)
        results["sql"] = await sql_only(url, results["probes"])
    results.update(database=database, load_s=load_s, trigram=trigram, log_dir=str(run_dir / "log"))
    return results, database


def report(results: dict, args) -> dict:
    rows = [("duplicate check  GET /v1/accounts/duplicates", summary(results["checks"])),
            ("  the same checks, query code alone (no HTTP, no app)", summary(results["sql"])),
            ("create with the check  POST /v1/accounts", summary(results["creates"])),
            ("floor  GET /v1/accounts/{id}", summary(results["floor"]))]
    width = max(len(r[0]) for r in rows)
    variants = args.checks // 2 + args.checks % 2
    print()
    print(f"account dedupe — {args.accounts} accounts loaded, database {results['database']}"
          f"{' with pg_trgm' if results['trigram'] else ' (no trigram index: candidate scan)'}, "
          f"one request in flight, account-svc as a process")
    print(f"{'':{width}}  {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}   (ms)")
    for name, s in rows:
        cells = [f"{s[k]:8.2f}" if s[k] is not None else f"{'-':>8}" for k in ("p50", "p95", "p99", "max", "mean")]
        print(f"{name:{width}}  {s['n']:5d} {' '.join(cells)}")
    checks, creates = summary(results["checks"]), summary(results["creates"])
    met = all(s["p99"] is not None and s["p99"] < TARGET_P99_MS for s in (checks, creates))
    print(f"variants of loaded accounts found among the candidates: {results['check_hits']}/{variants}   "
          f"candidates per check: {results['check_candidates'] / max(1, len(results['checks'])):.1f}   "
          f"load: {results['load_s']:.1f}s")
    cpu = results["cpu_ms"]
    if cpu:
        print(f"account-svc CPU per request (from /proc, the machine's other load inflates it less): check "
              f"{cpu['check']:.1f} ms, create {cpu['create']:.1f} ms, floor {cpu['floor']:.1f} ms")
    print(f"target p99 < {TARGET_P99_MS} ms for both: {'met' if met else 'NOT met'}   "
          f"(service log: {results['log_dir']})")
    floor = summary(results["floor"])
    return {"bench": "account_dedupe", "database": results["database"], "pg_trgm": results["trigram"],
            "accounts": args.accounts, "checks": checks["n"], "creates": creates["n"],
            "check_p50_ms": checks["p50"], "check_p99_ms": checks["p99"],
            "create_p50_ms": creates["p50"], "create_p99_ms": creates["p99"],
            "check_sql_p50_ms": summary(results["sql"])["p50"], "check_sql_p99_ms": summary(results["sql"])["p99"],
            "floor_p50_ms": floor["p50"], "floor_p99_ms": floor["p99"],
            "service_cpu_ms": {k: round(v, 2) for k, v in cpu.items()},
            "variant_hits": results["check_hits"], "variants": variants, "target_p99_ms": TARGET_P99_MS,
            **results["broker_floor"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261123)
    add_broker_option(parser)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results, _ = asyncio.run(run(args))
    figures = report(results, args)
    sys.stdout.flush()
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
