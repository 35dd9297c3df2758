"""Sign-in under attack: can an attacker lock out a user, slow the API, or blow up team-svc's memory?

    .venv/bin/python bench/signin.py [--seconds 30] [--attackers 50] [--attacker-addresses 1]

Starts the Tansu broker and one team-svc as a real process (`kam serve`, the default argon2 cost
and throttle settings) on a fresh PostgreSQL database when one answers at 127.0.0.1:5432, else
SQLite; stops everything and drops the database at the end.

Client addresses are real: each client binds its socket to its own loopback address (no header is
sent). Phases:
1. idle (10 s): `GET /v1/users/{id}` at 50 req/s, and the legitimate user signing in every second
   from 127.0.0.3: the idle p99 of both, and team-svc's idle RSS;
2. attack (--seconds): --attackers concurrent loops of wrong passwords for the legitimate user's
   account, from --attacker-addresses addresses (127.0.1.x), while the same GETs and sign-ins go
   on. The attackers run in a process of their own (a real attacker is another machine): in the
   probes' event loop their busy loop delayed the probes' own requests and inflated the very
   latencies measured. They send back what they were answered. Reported: the legitimate
   sign-ins' success rate and p99, the GET p99 beside the idle p99, team-svc's peak RSS (sampled
   every 50 ms from /proc) minus its idle RSS, and what the attackers were answered (401 = a
   password was checked, 429 = throttled without one; an exception's name if no answer came).

Also reported per phase: team-svc's CPU (share of a core) and how busy the whole machine was (other
helpers' work included), so that a slow phase can be told apart from a busy machine.

Targets (issue 13): legitimate sign-ins 100% with p99 < 1.5 s, GET p99 < 3x idle, RSS growth < 100 MiB.
Prints a table, then as its last stdout line one JSON object with the figures and the targets.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import httpx

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.devstack import VAR, Stack, free_port, stack_database_urls

PASSWORD = "lamp-tiger-7"
USER_ADDRESS = "127.0.0.3"
GET_RATE = 50
IDLE_S = 10.0


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs: the whole machine's load, other helpers' included."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Phase:
    """team-svc's share of a core and the machine's busy share over one phase: what the attack costs
    team-svc, apart from how busy the shared machine happened to be."""

    def __init__(self, pid: int):
        self.pid, self.wall, self.cpu, self.machine = pid, time.monotonic(), cpu_s(pid), machine_busy()

    def shares(self) -> dict:
        busy, total = machine_busy()
        return {"svc_cpu_pct": 100 * (cpu_s(self.pid) - self.cpu) / (time.monotonic() - self.wall),
                "machine_busy_pct": 100 * (busy - self.machine[0]) / max(1, total - self.machine[1])}


class Run:
    def __init__(self, base: str, pid: int, user: dict, token: str):
        self.base, self.pid, self.user, self.token = base, pid, user, token
        self.stop_at = 0.0
        self.gets: list[float] = []
        self.get_errors = 0
        self.signins: list[tuple[int, float]] = []
        self.rss: list[float] = []

    async def get_loop(self, http: httpx.AsyncClient) -> None:
        """Open loop: one GET every 1/GET_RATE s, whether or not the previous ones have answered."""
        tasks = []
        start = time.monotonic()
        n = 0
        while time.monotonic() < self.stop_at:
            tasks.append(asyncio.create_task(self._get(http)))
            n += 1
            await asyncio.sleep(max(0.0, start + n / GET_RATE - time.monotonic()))
        await asyncio.gather(*tasks)

    async def _get(self, http: httpx.AsyncClient) -> None:
        began = time.perf_counter()
        resp = await http.get(f"{self.base}/v1/users/{self.user['id']}",
                              headers={"Authorization": f"Bearer {self.token}"})
        if resp.status_code == 200:
            self.gets.append(time.perf_counter() - began)
        else:
            self.get_errors += 1

    async def signin_loop(self, http: httpx.AsyncClient) -> None:
        while time.monotonic() < self.stop_at:
            tick = time.monotonic()
            began = time.perf_counter()
            resp = await http.post(f"{self.base}/v1/auth/token",
                                   data={"username": self.user["email"], "password": PASSWORD})
            self.signins.append((resp.status_code, time.perf_counter() - began))
            await asyncio.sleep(max(0.0, tick + 1.0 - time.monotonic()))

    async def rss_loop(self) -> None:
        while time.monotonic() < self.stop_at:
            self.rss.append(rss_mib(self.pid))
            await asyncio.sleep(0.05)

    def reset(self) -> None:
        self.gets, self.get_errors, self.signins, self.rss = [], 0, [], []


async def attacker(http: httpx.AsyncClient, base: str, email: str, stop_at: float,
                   answers: collections.Counter) -> None:
    while time.monotonic() < stop_at:
        try:
            resp = await http.post(f"{base}/v1/auth/token", data={"username": email, "password": "not-the-password"})
            answers[resp.status_code] += 1  # no attacker honours Retry-After
        except httpx.HTTPError as exc:
            answers[type(exc).__name__] += 1


async def attack(base: str, email: str, args, conn) -> dict:
    attackers = [client(f"127.0.1.{1 + n % args.attacker_addresses}", 4) for n in range(args.attackers)]
    answers: collections.Counter = collections.Counter()
    try:
        conn.send("ready")
        seconds = await asyncio.to_thread(conn.recv)  # "go": the probes' clock starts with ours
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*[attacker(a, base, email, stop_at, answers) for a in attackers])
    finally:
        for a in attackers:
            await a.aclose()
    return {str(k): v for k, v in answers.items()}


def attack_process(base: str, email: str, args, conn) -> None:
    """The attackers' own process: its answers go back through `conn`."""
    conn.send(asyncio.run(attack(base, email, args, conn)))
    conn.close()


def client(source: str, connections: int = 20) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=source), timeout=60,
                             limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))


async def setup(base: str) -> tuple[dict, str]:
    async with httpx.AsyncClient(timeout=60) as http:
        admin = (await http.post(f"{base}/v1/auth/token",
                                 data={"username": DEV_ADMIN_EMAIL, "password": DEV_ADMIN_PASSWORD})).json()
        headers = {"Authorization": f"Bearer {admin['access_token']}"}
        user = (await http.post(f"{base}/v1/users", headers=headers, json={
            "email": f"target.{uuid.uuid4().hex[:6]}@bench.test", "name": "Target", "role": "rep",
            "password": PASSWORD})).json()
        return user, admin["access_token"]


async def measure(base: str, pid: int, args) -> dict:
    user, token = await setup(base)
    run = Run(base, pid, user, token)
    out: dict = {}
    async with client("127.0.0.2", 40) as reader, client(USER_ADDRESS, 2) as owner:
        # Warm-up: the first sign-in and GETs open connections and fill caches.
        run.stop_at = time.monotonic() + 3
        await asyncio.gather(run.get_loop(reader), run.signin_loop(owner))
        run.reset()
        run.stop_at = time.monotonic() + IDLE_S
        phase = Phase(pid)
        await asyncio.gather(run.get_loop(reader), run.signin_loop(owner), run.rss_loop())
        out["idle"] = {"get_p99_s": p99(run.gets), "signin_p99_s": p99([s for _, s in run.signins]),
                       "rss_mib": max(run.rss), "gets": len(run.gets), **phase.shares()}
        run.reset()
        # spawn, not fork: this process has an event loop and open sockets the child must not share.
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        worker = multiprocessing.get_context("spawn").Process(
            target=attack_process, args=(base, user["email"], args, theirs), daemon=True)
        worker.start()
        try:
            if await asyncio.to_thread(ours.poll, 60):
                assert ours.recv() == "ready"
            else:
                raise RuntimeError("the attackers' process did not start")
            ours.send(args.seconds)
            run.stop_at = time.monotonic() + args.seconds
            phase = Phase(pid)
            await asyncio.gather(run.get_loop(reader), run.signin_loop(owner), run.rss_loop())
            shares = phase.shares()
            attacker_answers = await asyncio.to_thread(ours.recv)
        finally:
            await asyncio.to_thread(worker.join, 60)
            if worker.is_alive():
                worker.kill()
    ok = [s for status, s in run.signins if status == 200]
    out["attack"] = {"get_p99_s": p99(run.gets), "get_errors": run.get_errors, "gets": len(run.gets),
                     "signins": len(run.signins), "signins_ok": len(ok),
                     "signin_statuses": dict(collections.Counter(st for st, _ in run.signins)),
                     "signin_p99_s": p99([s for _, s in run.signins]), "rss_peak_mib": max(run.rss),
                     "attacker_answers": attacker_answers, **shares}
    return out


def report(out: dict, args, database: str) -> dict:
    idle, attack = out["idle"], out["attack"]
    rate = attack["signins_ok"] / attack["signins"] if attack["signins"] else 0.0
    growth = attack["rss_peak_mib"] - idle["rss_mib"]
    print(f"\nsign-in under attack: {args.attackers} concurrent wrong sign-ins for {args.seconds:.0f} s from "
          f"{args.attacker_addresses} address(es); {database}; load {os.getloadavg()[0]:.1f}")
    print(f"{'':34}{'idle':>12}{'attack':>12}")
    print(f"{'GET /v1/users/{id} p99 (ms)':34}{idle['get_p99_s'] * 1000:12.1f}{attack['get_p99_s'] * 1000:12.1f}")
    print(f"{'legitimate sign-in p99 (ms)':34}{idle['signin_p99_s'] * 1000:12.1f}{attack['signin_p99_s'] * 1000:12.1f}")
    print(f"{'legitimate sign-ins ok':34}{'':12}{attack['signins_ok']:>7}/{attack['signins']:<4}")
    print(f"{'team-svc RSS (MiB)':34}{idle['rss_mib']:12.1f}{attack['rss_peak_mib']:12.1f}")
    print(f"{'team-svc CPU (% of a core)':34}{idle['svc_cpu_pct']:12.0f}{attack['svc_cpu_pct']:12.0f}")
    print(f"{'machine CPU busy (%, all helpers)':34}{idle['machine_busy_pct']:12.0f}{attack['machine_busy_pct']:12.0f}")
    print(f"attackers were answered: {attack['attacker_answers']}; GET errors: {attack['get_errors']}")
    return {"bench": "signin", "database": database, "attackers": args.attackers,
            "attacker_addresses": args.attacker_addresses, "seconds": args.seconds,
            "legit_success_rate": round(rate, 4), "legit_p99_ms": round(attack["signin_p99_s"] * 1000, 1),
            "get_p99_ms": round(attack["get_p99_s"] * 1000, 1), "get_idle_p99_ms": round(idle["get_p99_s"] * 1000, 1),
            "get_p99_ratio": round(attack["get_p99_s"] / idle["get_p99_s"], 2),
            "rss_idle_mib": round(idle["rss_mib"], 1), "rss_growth_mib": round(growth, 1),
            "attacker_answers": attack["attacker_answers"],
            "svc_cpu_pct_idle": round(idle["svc_cpu_pct"], 1), "svc_cpu_pct_attack": round(attack["svc_cpu_pct"], 1),
            "machine_busy_pct_idle": round(idle["machine_busy_pct"], 1),
            "machine_busy_pct_attack": round(attack["machine_busy_pct"], 1),
            "target_legit_success_rate": 1.0, "target_legit_p99_ms": 1500, "target_get_p99_ratio": 3.0,
            "target_rss_growth_mib": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--attackers", type=int, default=50)
    parser.add_argument("--attacker-addresses", type=int, default=1,
                        help="spread the attackers over this many source addresses (each throttled on its own)")
    args = parser.parse_args()
    urls, drop = stack_database_urls("bench")
    database = "postgresql" if urls["team-svc"].startswith("postgresql") else "sqlite"
    run_dir = VAR / "bench" / f"signin-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    stack = Stack(database_urls=urls, ports={"team-svc": free_port()}, services=["team-svc"],
                  log_dir=run_dir / "log", extra_env={"LOG_LEVEL": "WARNING"})
    ok = False
    try:
        print(f"starting the broker and team-svc ({database}; logs in {run_dir / 'log'}) ...", file=sys.stderr,
              flush=True)
        stack.start()
        out = asyncio.run(measure(stack.url("team-svc"), stack.procs["team-svc"].pid, args))
        ok = True
    finally:
        stack.stop()
        drop()
        if database == "sqlite":
            shutil.rmtree(Path(urls["team-svc"].removeprefix("sqlite+aiosqlite:///")).parent, ignore_errors=True)
        (run_dir / "team-svc-jwt.pem").unlink(missing_ok=True)
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
    figures = report(out, args, database)
    sys.stdout.flush()
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
