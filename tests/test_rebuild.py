"""forecast-svc's read models: live roll-ups after 2,000 random changes equal an independent model,
and a rebuild from the owners' snapshots after losing the read-model database gives exactly the same
(the predictions too: their journeys come back from opportunity-svc's stage history)."""
import asyncio
import random
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx

from kam_shared.devstack import _pg_admin, _stop, free_port, spawn
from kam_shared.settings import REPO_ROOT
from kam_shared.testing import wait_for

PROBABILITY = [10, 20, 30, 40, 50, 70, 90]
PERIODS = ["2026-10", "2026-11", "2026-12", "2026-Q4", "2027-01", "2027-Q1", "2026", "2027"]
CLOSE_DATES = ["2026-10-05", "2026-11-15", "2026-11-30", "2026-12-31", "2027-01-02", "2027-03-31"]


def expected_rollup(opps, owners, period):
    start, end = _bounds(period)
    mine = [o for o in opps.values() if o["owner"] in owners and start <= o["close"] < end]
    open_ = [o for o in mine if o["status"] == "open"]
    weighted = sum(o["cents"] * o["prob"] for o in open_)
    return {"open_count": len(open_),
            "open_amount": f"{Decimal(sum(o['cents'] for o in open_)) / 100:.2f}",
            "weighted_amount": f"{(Decimal(weighted) / 10000).quantize(Decimal('0.01'))}",
            "won_amount": f"{Decimal(sum(o['cents'] for o in mine if o['status'] == 'won')) / 100:.2f}",
            "lost_count": len([o for o in mine if o["status"] == "lost"]),
            "stage_counts": [len([o for o in open_ if o["stage"] == s]) for s in range(1, 8)]}


def _bounds(period):
    if "-Q" in period:
        year, q = period.split("-Q")
        first = 3 * (int(q) - 1) + 1
        end = f"{int(year) + (first + 3 > 12)}-{(first + 2) % 12 + 1:02d}-01"
        return f"{year}-{first:02d}-01", end
    if "-" in period:
        year, month = map(int, period.split("-"))
        return f"{year}-{month:02d}-01", f"{year + (month == 12)}-{month % 12 + 1:02d}-01"
    return f"{period}-01-01", f"{int(period) + 1}-01-01"


def observed(view):
    return {k: view.get(k) for k in ("open_count", "open_amount", "weighted_amount", "won_amount", "lost_count")} | {
        "stage_counts": [s["count"] for s in view.get("stages", [])]}


def test_live_rollups_match_a_model_and_a_rebuild_restores_them_exactly(stack, org):
    api, auth, _ = org
    admin = auth["admin"]
    tag = uuid.uuid4().hex[:6]

    def new_user(name, role, superior):
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": f"{name}.{tag}@rebuild.test", "name": name, "role": role, "password": "lamp-tiger-7",
            **({"superior_id": superior} if superior else {})})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    head = new_user("head", "manager", None)
    managers = [new_user(f"m{i}", "manager", head) for i in range(2)]
    reps = [new_user(f"r{i}", "rep", managers[i % 2]) for i in range(4)]
    superior = {r: managers[i % 2] for i, r in enumerate(reps)}
    accounts = [api.call("POST", "account-svc", "/v1/accounts", admin,
                         json={"name": f"Rebuild {tag} {i}", "owner_id": reps[i]}).json()["id"] for i in range(4)]
    opps: dict[str, dict] = {}
    lock = threading.Lock()

    def worker(index: int, changes: int) -> None:
        """Each worker owns the opportunities it creates, so the model stays exact under concurrency;
        worker 0 also moves reps between managers."""
        rng = random.Random(2000 + index)
        http = httpx.Client(timeout=30)
        mine: list[str] = []

        def call(method, service, path, **kw):
            resp = http.request(method, f"{stack.url(service)}{path}", headers=admin, **kw)
            assert resp.status_code in (200, 201), resp.text
            return resp.json()

        def create():
            owner = rng.choice(reps)
            cents = rng.randrange(100, 10**9)
            close = rng.choice(CLOSE_DATES)
            body = call("POST", "opportunity-svc", "/v1/opportunities", json={
                "account_id": rng.choice(accounts), "name": "deal", "amount": f"{Decimal(cents) / 100:.2f}",
                "currency": "CNY", "close_date": close, "owner_id": owner})
            with lock:
                opps[body["id"]] = {"owner": owner, "cents": cents, "close": close, "stage": 1, "prob": 10,
                                    "status": "open"}
            mine.append(body["id"])

        for _ in range(8):
            create()
        for _ in range(changes - 8):
            roll = rng.random()
            open_ids = [i for i in mine if opps[i]["status"] == "open"]
            if roll < 0.08 or not open_ids:
                create()
            elif roll < 0.12 and index == 0:  # a hierarchy move: a rep changes manager
                rep = rng.choice(reps)
                target = managers[0] if superior[rep] == managers[1] else managers[1]
                call("PATCH", "team-svc", f"/v1/users/{rep}", json={"superior_id": target})
                with lock:
                    superior[rep] = target
            elif roll < 0.16:
                opp_id = rng.choice(open_ids)
                outcome = rng.choice(["won", "lost"])
                call("POST", "opportunity-svc", f"/v1/opportunities/{opp_id}/close",
                     json={"outcome": outcome, "reason": "other" if outcome == "won" else "cancelled"})
                with lock:
                    opps[opp_id].update(stage=8, prob=100 if outcome == "won" else 0, status=outcome)
            else:
                opp_id = rng.choice(open_ids)
                stage = rng.choice([s for s in range(1, 8) if s != opps[opp_id]["stage"]])
                call("POST", "opportunity-svc", f"/v1/opportunities/{opp_id}/stage", json={"stage": stage})
                with lock:
                    opps[opp_id].update(stage=stage, prob=PROBABILITY[stage - 1])
        http.close()

    # Scale-out: a second forecast-svc instance joins the consumer group (same database) and the
    # two share the partitions while the changes, hierarchy moves included, stream in.
    second_port = free_port()
    second = spawn([sys.executable, "-m", "kam_shared.cli", "serve", "forecast-svc"],
                   env={**stack.env_for("forecast-svc"), "PORT": str(second_port)},
                   stdout=open(stack.log_dir / "forecast-svc-2.log", "ab"), stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        wait_for(lambda: _status(f"http://127.0.0.1:{second_port}", admin), lambda s: bool(s.get("partitions")),
                 timeout=60)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: worker(i, 500), range(4)))  # 2,000 changes; list() re-raises failures
        shares = [_status(url, admin).get("partitions", [])
                  for url in (stack.url("forecast-svc"), f"http://127.0.0.1:{second_port}")]
        assert all(shares) and not set(shares[0]) & set(shares[1]), shares  # both worked, none twice
        expected, all_views = _live_views_match_the_model(api, admin, opps, reps, managers, head, superior)
        predicted = _predictions(api, admin, [head, *managers, reps[0]])
    finally:
        _stop(second)
    # The first instance takes every partition back before it, too, is stopped below: a member
    # that leaves mid-rebalance would hold the next join up for the whole rebalance timeout.
    everything = set(shares[0]) | set(shares[1])
    wait_for(lambda: _status(stack.url("forecast-svc"), admin), lambda st: set(st.get("partitions", [])) == everything,
             timeout=60)
    _lose_the_read_model_and_rebuild(stack, api, auth, opps, head, expected, all_views)
    assert _predictions(api, admin, [head, *managers, reps[0]]) == predicted


def _predictions(api, admin, nodes) -> dict:
    """Every node's prediction for the test's periods (without `as_of`, the time of the read)."""
    out = {}
    for node in nodes:
        for period in ("2026-Q4", "2027-Q1"):
            body = api.call("GET", "forecast-svc", "/v1/predictions", admin,
                            params={"node": node, "period": period}).json()
            body.pop("as_of", None)
            out[(node, period)] = body
    return out


def _status(base: str, auth: dict) -> dict:
    try:
        return httpx.get(f"{base}/v1/admin/consumer", headers=auth, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}


def _live_views_match_the_model(api, admin, opps, reps, managers, head, superior):
    def subtree(node):
        if node == head:
            return set(reps) | set(managers) | {head}
        if node in managers:
            return {node} | {r for r in reps if superior[r] == node}
        return {node}

    nodes = [head, *managers, reps[0]]
    expected = {(n, p): expected_rollup(opps, subtree(n), p) for n in nodes for p in PERIODS}

    def all_views():
        return {(n, p): observed(api.rollup(admin, n, p)) for n in nodes for p in PERIODS}

    # Both instances applied events into the one read model: still exact, nothing counted twice.
    wait_for(all_views, lambda views: views == expected, timeout=60)
    return expected, all_views


def _lose_the_read_model_and_rebuild(stack, api, auth, opps, head, expected, all_views) -> None:
    admin = auth["admin"]
    # The read-model database is lost; forecast-svc restarts empty, its group offsets still committed.
    stack.stop_service("forecast-svc")
    url = stack.database_urls["forecast-svc"]
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        asyncio.run(_pg_admin([f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"']))
    else:
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    stack.start_service("forecast-svc")
    stack.wait_ready("forecast-svc")
    assert api.rollup(admin, head, "2026") == {"status": 404}  # not even the hierarchy is known now

    resp = api.call("POST", "forecast-svc", "/v1/admin/rebuild", admin)
    assert resp.status_code == 200, resp.text
    assert resp.json()["opportunities"] >= len(opps)
    assert all_views() == expected
    # Only an admin may rebuild.
    assert api.call("POST", "forecast-svc", "/v1/admin/rebuild", auth["manager"]).status_code == 403
