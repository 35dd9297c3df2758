"""What changed since, and the forecast history, on the running stack: opportunities move through
opportunity-svc, their events reach forecast-svc, and the waterfall since a recorded instant starts
at the roll-up read at that instant and ends at today's; after the read-model database is lost, the
rebuild replays the event stream into the same history (and re-takes the daily stage snapshots)."""
import asyncio
import datetime as dt
import time
import uuid
from decimal import Decimal
from pathlib import Path

from kam_shared.devstack import _pg_admin
from kam_shared.testing import wait_for

KEYS = ("open_count", "open_amount", "weighted_amount", "won_count", "won_amount")


def _team(api, admin):
    tag = uuid.uuid4().hex[:6]
    auth, ids = {}, {}
    for role, name, superior in (("manager", "manager", None), ("rep", "rep", "manager"), ("rep", "peer", "manager")):
        email = f"{name}.{tag}@changes.test"
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": f"{name} {tag}", "role": role, "password": "lamp-tiger-7",
            **({"superior_id": ids[superior]} if superior else {})})
        assert resp.status_code == 201, resp.text
        ids[name], auth[name] = resp.json()["id"], api.token(email, "lamp-tiger-7")
    return auth, ids


def _commit(rollup):
    return next(c["amount"] for c in rollup["categories"] if c["category"] == "commit")


def _figures(rollup):
    return {**{k: rollup[k] for k in KEYS}, "commit_amount": _commit(rollup)}


def _changes(api, auth, node, since, **params):
    resp = api.call("GET", "forecast-svc", "/v1/pipeline-changes", auth,
                    params={"node": node, "period": "2026-Q4", "since": since, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _lose_forecast_database(stack):
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


def test_waterfall_since_a_recorded_instant_ends_at_both_rollups_and_survives_a_rebuild(stack, org):
    api, shared_auth, _ = org
    admin = shared_auth["admin"]
    auth, ids = _team(api, admin)
    rep, mgr = auth["rep"], auth["manager"]
    # The rep owns the account explicitly: other tests on the shared stack add territory rules that
    # would otherwise assign a new account to their territory's manager.
    account = api.call("POST", "account-svc", "/v1/accounts", rep,
                       json={"name": f"Changes {uuid.uuid4().hex[:6]}", "owner_id": ids["rep"]})
    assert account.status_code == 201, account.text

    # The peer's own account: a reference to an account the caller may not see is refused (issue 13).
    peers_account = api.call("POST", "account-svc", "/v1/accounts", auth["peer"],
                             json={"name": f"Changes peer {uuid.uuid4().hex[:6]}", "owner_id": ids["peer"]})
    assert peers_account.status_code == 201, peers_account.text

    def opportunity(owner, amount, close="2026-11-30", who=rep):
        on = peers_account if who is auth["peer"] else account
        resp = api.call("POST", "opportunity-svc", "/v1/opportunities", who, json={
            "account_id": on.json()["id"], "name": f"deal {amount}", "amount": amount, "currency": "CNY",
            "close_date": close, "owner_id": owner})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    def stage(opp, number, who=rep):
        resp = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp}/stage", who, json={"stage": number})
        assert resp.status_code == 200, resp.text

    def patch(opp, who=rep, **body):
        current = api.call("GET", "opportunity-svc", f"/v1/opportunities/{opp}", who)
        resp = api.call("PATCH", "opportunity-svc", f"/v1/opportunities/{opp}",
                        {**who, "If-Match": current.headers["etag"]}, json=body)
        assert resp.status_code == 200, resp.text

    moved = opportunity(ids["rep"], "10000.00")
    slipping = opportunity(ids["rep"], "20000.00")
    winning = opportunity(ids["rep"], "30000.00")
    shrinking = opportunity(ids["rep"], "40000.00")
    stage(moved, 2)
    stage(slipping, 4)
    stage(winning, 6)
    stage(shrinking, 3)
    before, _ = wait_for(lambda: api.rollup(mgr, ids["manager"]),
                         lambda r: r.get("open_count") == 4 and r.get("weighted_amount") == "43000.00", timeout=90)
    time.sleep(0.2)
    since = dt.datetime.now(dt.timezone.utc).isoformat()  # the instant recorded: the roll-up stood at `before`
    time.sleep(0.2)

    stage(moved, 5)  # moved forward
    patch(slipping, close_date="2027-01-15")  # slipped out of the quarter
    won = api.call("POST", "opportunity-svc", f"/v1/opportunities/{winning}/close", rep,
                   json={"outcome": "won", "reason": "best_value"})
    assert won.status_code == 200, won.text
    patch(shrinking, amount="25000.00")  # amount changed
    created = opportunity(ids["peer"], "5000.00", who=auth["peer"])  # created (a peer: the manager's subtree)
    after, _ = wait_for(lambda: api.rollup(mgr, ids["manager"]),
                        lambda r: r.get("won_amount") == "30000.00" and r.get("open_count") == 3
                        and r.get("open_amount") == "40000.00", timeout=90)

    body = _changes(api, mgr, ids["manager"], since)
    assert body["start"] == _figures(before)
    assert body["end"] == _figures(after)
    for key in ("open_amount", "weighted_amount", "commit_amount", "won_amount"):
        total = Decimal(body["start"][key]) + sum(Decimal(s[key]) for s in body["waterfall"])
        assert f"{total:.2f}" == body["end"][key], key
    kinds = {c["opportunity_id"]: c["kind"] for c in body["changes"]}
    assert kinds == {moved: "moved_forward", slipping: "slipped", winning: "won", shrinking: "amount_changed",
                     created: "created"}
    slip = next(c for c in body["changes"] if c["kind"] == "slipped")
    assert (slip["before"]["close_date"], slip["after"]["close_date"]) == ("2026-11-30", "2027-01-15")
    assert slip["effect"]["open_amount"] == "-20000.00"

    history = api.call("GET", "forecast-svc", "/v1/forecast-history", mgr,
                       params={"node": ids["manager"], "period": "2026-Q4", "interval": "day"})
    assert history.status_code == 200, history.text
    last = history.json()["points"][-1]
    assert {k: last[k] for k in KEYS} == {k: after[k] for k in KEYS}

    # Outside the manager's subtree: 404, as a roll-up read.
    outsider = api.call("GET", "forecast-svc", "/v1/pipeline-changes", auth["rep"],
                        params={"node": ids["manager"], "period": "2026-Q4", "since": since})
    assert outsider.status_code == 404

    # The read-model database is lost; the rebuild replays the stream: the same history, to the second.
    _lose_forecast_database(stack)
    resp = api.call("POST", "forecast-svc", "/v1/admin/rebuild", admin)
    assert resp.status_code == 200, resp.text
    rebuilt_history = resp.json()["history"]
    # every state came from the replayed stream (nothing changed meanwhile): none filled in from a fact
    assert rebuilt_history["states"] >= 10 and rebuilt_history["from_facts"] == 0, rebuilt_history
    assert resp.json()["stage_snapshot_days"] >= 1
    again = _changes(api, mgr, ids["manager"], since)
    assert {k: again[k] for k in ("start", "end", "waterfall")} == {k: body[k] for k in ("start", "end", "waterfall")}
    assert again["changes"] == body["changes"]
    # Today's stage snapshot was re-taken from the history: what re-taking it by hand records.
    days = api.call("GET", "forecast-svc", "/v1/admin/stage-snapshots", admin).json()["items"]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    rebuilt = next(d for d in days if d["day"] == today)
    retaken = api.call("POST", "forecast-svc", "/v1/admin/stage-snapshots", admin)
    assert retaken.status_code == 200, retaken.text
    assert retaken.json()["rows"] == rebuilt["rows"] > 0
