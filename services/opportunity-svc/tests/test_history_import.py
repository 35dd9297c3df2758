"""An admin imports an opportunity's past history: replayed through the funnel's rules at the times
given, kept in the stage history, and published as events whose `time` is the historical moment."""
import datetime as dt
import json
import uuid

from kam_shared.events import utcnow
from kam_shared.testing import bearer

NOW = utcnow()


def assert_problem(resp, status: int, mentions: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.text, resp.text


def ago(days: float) -> str:
    return (NOW - dt.timedelta(days=days)).isoformat()


def body(account, owner, **over) -> dict:
    return {"account_id": str(account), "name": "Past framework deal", "amount": "500000.00", "currency": "USD",
            "close_date": (NOW - dt.timedelta(days=60)).date().isoformat(), "owner_id": str(owner),
            "created_at": ago(200),
            "steps": [{"at": ago(180), "stage": 3}, {"at": ago(150), "stage": 2},
                      {"at": ago(120), "close_date": (NOW - dt.timedelta(days=40)).date().isoformat()},
                      {"at": ago(100), "stage": 6}, {"at": ago(90), "amount": "450000.00"},
                      {"at": ago(41), "outcome": "lost", "reason": "price", "competitor": "Globex"}],
            **over}


async def test_the_imported_history_is_the_opportunitys_own_with_past_times(world):
    owner = await world.user()
    account = await world.account(owner)
    before = len(await world.outbox())
    admin = bearer(uuid.uuid4(), "admin")
    resp = await world.client.post("/v1/admin/opportunities/import", headers=admin, json=body(account, owner))
    assert resp.status_code == 201, resp.text
    opp = resp.json()
    assert (opp["status"], opp["stage"], opp["amount"], opp["currency"], opp["lost_to_competitor"]) == \
        ("lost", 8, "450000.00", "USD", "Globex")
    history = (await world.client.get(f"/v1/opportunities/{opp['id']}/stage-history", headers=admin)).json()
    assert [(h["kind"], h["from_stage"], h["to_stage"]) for h in history] == [
        ("created", None, 1), ("skipped_forward", 1, 3), ("moved_back", 3, 2), ("skipped_forward", 2, 6),
        ("lost", 6, 8)]
    assert dt.datetime.fromisoformat(history[0]["changed_at"]) == dt.datetime.fromisoformat(ago(200))
    assert dt.datetime.fromisoformat(history[-1]["changed_at"]) == dt.datetime.fromisoformat(ago(41))
    events = [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
              for r in (await world.outbox())[before:]]
    assert [e["type"].split(".")[2] for e in events] == ["created", "stage_changed", "stage_changed", "updated",
                                                         "stage_changed", "updated", "closed"]
    times = [dt.datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in events]
    assert times[0] == dt.datetime.fromisoformat(ago(200)) and times == sorted(times) and times[-1] < NOW
    assert events[-1]["data"]["opportunity"]["stage_entered_at"].startswith(ago(41)[:19])


async def test_only_an_admin_imports_and_bad_histories_write_nothing(world):
    owner = await world.user()
    account = await world.account(owner)
    marker = await world.unchanged()
    admin = bearer(uuid.uuid4(), "admin")
    url = "/v1/admin/opportunities/import"
    assert (await world.client.post(url, headers=bearer(owner), json=body(account, owner))).status_code == 403
    future = body(account, owner, created_at=(NOW + dt.timedelta(days=1)).isoformat(), steps=[])
    assert_problem(await world.client.post(url, headers=admin, json=future), 422, "created_at")
    backwards = body(account, owner, steps=[{"at": ago(100), "stage": 2}, {"at": ago(150), "stage": 3}])
    assert_problem(await world.client.post(url, headers=admin, json=backwards), 422, "steps[1].at")
    two_things = body(account, owner, steps=[{"at": ago(100), "stage": 2, "outcome": "won", "reason": "best_value"}])
    assert_problem(await world.client.post(url, headers=admin, json=two_things), 422, "steps[0]")
    no_competitor = body(account, owner, steps=[{"at": ago(100), "outcome": "lost", "reason": "price"}])
    assert_problem(await world.client.post(url, headers=admin, json=no_competitor), 422, "competitor")
    after_close = body(account, owner, steps=[{"at": ago(100), "outcome": "won", "reason": "best_value"},
                                              {"at": ago(90), "stage": 3}])
    assert_problem(await world.client.post(url, headers=admin, json=after_close), 409, "closed")
    await world.assert_unchanged(marker)
