"""The walking skeleton end to end: the broker and the four services as real processes,
spoken to only over HTTP and Kafka, as a client and a subscriber would."""
import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer
from opentelemetry import context as otel_context
from opentelemetry.propagate import extract

from kam_shared.auth import SigningKey
from kam_shared.events import CloudEvent
from kam_shared.services import SERVICES
from kam_shared.testing import wait_for


async def read_events(bootstrap, key, expected, timeout=10.0):
    consumer = AIOKafkaConsumer("kam.opportunity.events", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    found += [m for m in msgs if m.key == key]
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return found


def fresh_team(api, admin) -> tuple[dict, dict]:
    """A manager and a rep of their own: exact roll-ups, whatever other tests put on the shared org."""
    tag = uuid.uuid4().hex[:6]
    auth, ids = {}, {}
    for role, superior in (("manager", None), ("rep", "manager")):
        email = f"{role}.{tag}@e2e.test"
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": f"{role} {tag}", "role": role, "password": "lamp-tiger-7",
            **({"superior_id": ids[superior]} if superior else {})})
        assert resp.status_code == 201, resp.text
        ids[role], auth[role] = resp.json()["id"], api.token(email, "lamp-tiger-7")
    return auth, ids


def test_stage_change_reaches_rep_and_manager_rollups_and_won_moves_to_won_amount(stack, org):
    api, shared_auth, _ = org
    auth, ids = fresh_team(api, shared_auth["admin"])
    auth["peer"] = shared_auth["peer"]  # a rep of another manager
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Bank of E2E"})
    assert account.status_code == 201, account.text
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": account.json()["id"], "name": "Core banking", "amount": "100000.00", "currency": "CNY",
        "close_date": "2026-11-30", "owner_id": ids["rep"]})
    assert opp.status_code == 201, opp.text
    opp_id = opp.json()["id"]
    assert (opp.json()["stage"], opp.json()["probability"], opp.json()["status"]) == (1, 10, "open")

    moved = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp_id}/stage", auth["rep"], json={"stage": 5})
    assert moved.status_code == 200 and moved.json()["probability"] == 50
    for who, node in (("rep", ids["rep"]), ("manager", ids["manager"])):
        view, _ = wait_for(lambda who=who, node=node: api.rollup(auth[who], node),
                              lambda r: r.get("weighted_amount") == "50000.00", timeout=60)
        assert view["stages"][4] == {"stage": 5, "count": 1, "amount": "100000.00", "weighted_amount": "50000.00"}
        assert view["open_amount"] == "100000.00" and view["as_of"]

    won = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp_id}/close", auth["rep"],
                   json={"outcome": "won", "reason": "best_value", "note": "best total cost of ownership"})
    assert (won.json()["stage"], won.json()["probability"], won.json()["status"]) == (8, 100, "won")
    view, _ = wait_for(lambda: api.rollup(auth["manager"], ids["manager"]),
                       lambda r: r.get("won_amount") == "100000.00", timeout=60)
    assert view["open_count"] == 0 and view["weighted_amount"] == "0.00" and view["won_count"] == 1

    # A peer rep sees neither the opportunity nor the other rep's roll-up: 404, not 403.
    hidden = api.call("GET", "opportunity-svc", f"/v1/opportunities/{opp_id}", auth["peer"])
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("application/problem+json")
    assert api.call("GET", "forecast-svc", "/v1/rollups", auth["peer"],
                    params={"node": ids["rep"], "period": "2026-Q4"}).status_code == 404
    # The manager sees it once opportunity-svc's user replica holds the new rep's superior: team-svc's
    # events reach each service on its own consumer, so this can trail forecast-svc's roll-up.
    wait_for(lambda: api.call("GET", "opportunity-svc", f"/v1/opportunities/{opp_id}", auth["manager"]).status_code,
             lambda status: status == 200, timeout=60)

    # A plain subscriber reads valid CloudEvents keyed by the opportunity id, in order.
    messages = asyncio.run(read_events(stack.bootstrap, opp_id.encode(), 3))
    events = [CloudEvent.model_validate(json.loads(m.value)) for m in messages]
    assert [e.type for e in events] == ["kam.opportunity.created.v1", "kam.opportunity.stage_changed.v1",
                                        "kam.opportunity.closed.v1"]
    assert [e.sequence for e in events] == [1, 2, 3]
    assert all(e.subject == opp_id and e.source == "/kam/opportunity-svc" for e in events)
    assert (events[1].data["from_stage"], events[1].data["to_stage"]) == (1, 5)
    assert events[2].data["outcome"] == "won" and events[2].data["opportunity"]["amount"] == "100000.00"


def test_bad_input_over_http_is_a_problem_and_publishes_nothing(stack, org):
    api, auth, ids = org
    before = asyncio.run(read_events(stack.bootstrap, None, 10**6, timeout=1.5))
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Bad Input Ltd"}).json()
    good = {"account_id": account["id"], "name": "x", "amount": "10.00", "currency": "CNY",
            "close_date": "2026-12-01", "owner_id": ids["rep"]}
    cases = [({**good, "account_id": str(uuid.uuid4())}, 422, "account_id"),
             ({**good, "amount": "-1"}, 422, "amount"),
             ({**good, "currency": "ABC"}, 422, "currency"),
             ({**good, "probability": 99}, 422, "probability")]
    for body, status, mentions in cases:
        resp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json=body)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert mentions in resp.text
    raw = api.http.post(f"{stack.url('opportunity-svc')}/v1/opportunities", content=b'{"account_id": ',
                        headers={**auth["rep"], "content-type": "application/json"})
    assert raw.status_code == 400
    forged = SigningKey.generate().issue(user_id=uuid.UUID(ids["rep"]), email="rep@e2e.test", role="admin",
                                         issuer="kam-team-svc", audience="kam", lifetime_s=60)
    for service in SERVICES:
        path = {"team-svc": "/v1/users", "account-svc": "/v1/accounts", "opportunity-svc": "/v1/opportunities",
                "forecast-svc": "/v1/rollups"}[service]
        for headers in ({}, {"Authorization": f"Bearer {forged}"}):
            resp = api.http.get(f"{stack.url(service)}{path}", headers=headers,
                                params={"node": ids["rep"], "period": "2026-Q4"})
            assert resp.status_code == 401, (service, resp.text)
    time.sleep(1)
    after = asyncio.run(read_events(stack.bootstrap, None, 10**6, timeout=1.5))
    assert len(after) == len(before)  # no event for any refused request


def test_a_restarted_forecast_service_catches_up_from_its_committed_offset(stack, org):
    api, auth, ids = org
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Restart Co"}).json()
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": account["id"], "name": "Restart deal", "amount": "20000.00", "currency": "CNY",
        "close_date": "2026-10-15", "owner_id": ids["rep"]}).json()
    wait_for(lambda: api.rollup(auth["rep"], ids["rep"], "2026-10"), lambda r: r.get("open_count") == 1)
    stack.stop_service("forecast-svc")
    api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp['id']}/stage", auth["rep"], json={"stage": 7})
    stack.start_service("forecast-svc")
    stack.wait_ready("forecast-svc")
    restarted = time.monotonic()
    view, seen = wait_for(lambda: api.rollup(auth["rep"], ids["rep"], "2026-10"),
                          lambda r: r.get("weighted_amount") == "18000.00", timeout=90)
    print(f"forecast-svc caught up {seen - restarted:.1f} s after it was ready again")
    assert view["stages"][6]["count"] == 1 and view["open_count"] == 1  # applied once, not twice


def test_moving_a_rep_to_another_manager_moves_their_numbers(stack, org):
    api, auth, ids = org
    other = api.call("POST", "team-svc", "/v1/users", auth["admin"], json={
        "email": "other.manager@e2e.test", "name": "Other", "role": "manager", "password": "lamp-tiger-7"}).json()
    mover = api.call("POST", "team-svc", "/v1/users", auth["admin"], json={
        "email": "mover@e2e.test", "name": "Mover", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": ids["manager"]}).json()
    mover_auth = api.token("mover@e2e.test", "lamp-tiger-7")
    account = api.call("POST", "account-svc", "/v1/accounts", mover_auth, json={"name": "Mover Co"}).json()
    api.call("POST", "opportunity-svc", "/v1/opportunities", mover_auth, json={
        "account_id": account["id"], "name": "Mover deal", "amount": "30000.00", "currency": "CNY",
        "close_date": "2027-02-10", "owner_id": mover["id"]})
    other_auth = api.token("other.manager@e2e.test", "lamp-tiger-7")
    wait_for(lambda: api.rollup(auth["manager"], ids["manager"], "2027-02"), lambda r: r.get("open_count") == 1)
    assert api.rollup(other_auth, other["id"], "2027-02")["open_count"] == 0

    resp = api.call("PATCH", "team-svc", f"/v1/users/{mover['id']}", auth["admin"], json={"superior_id": other["id"]})
    assert resp.status_code == 200, resp.text
    wait_for(lambda: api.rollup(other_auth, other["id"], "2027-02"), lambda r: r.get("open_amount") == "30000.00")
    assert api.rollup(auth["manager"], ids["manager"], "2027-02")["open_count"] == 0
    # ... and visibility moved with them.
    assert api.rollup(auth["manager"], mover["id"], "2027-02") == {"status": 404}


def test_one_trace_from_a_stage_change_to_forecast_svc_applying_it(stack, org):
    """A known W3C traceparent on the stage change: its trace id is on the event on the topic (the
    CloudEvents `traceparent` extension), on the relay's publish span (the message's traceparent
    header) and on forecast-svc's log line for applying that event."""
    api, auth, ids = org
    trace_id = uuid.uuid4().hex
    account = api.call("POST", "account-svc", "/v1/accounts", auth["rep"], json={"name": "Traced Bank"})
    opp = api.call("POST", "opportunity-svc", "/v1/opportunities", auth["rep"], json={
        "account_id": account.json()["id"], "name": "Traced deal", "amount": "1000.00", "currency": "CNY",
        "close_date": "2026-11-30", "owner_id": ids["rep"]})
    assert opp.status_code == 201, opp.text
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    # The click's trace as the current context too: where httpx is instrumented in this process (an
    # in-process service test ran before), the client continues this trace instead of starting one.
    token = otel_context.attach(extract({"traceparent": traceparent}))
    try:
        moved = api.call("POST", "opportunity-svc", f"/v1/opportunities/{opp.json()['id']}/stage",
                         {**auth["rep"], "traceparent": traceparent, "X-Request-ID": "e2e-1"}, json={"stage": 3})
    finally:
        otel_context.detach(token)
    assert moved.status_code == 200 and moved.headers["x-request-id"] == "e2e-1"

    messages = asyncio.run(read_events(stack.bootstrap, opp.json()["id"].encode(), 2))
    stage_messages = [m for m in messages if json.loads(m.value)["type"].endswith("stage_changed.v1")]
    changed = [json.loads(m.value) for m in stage_messages]
    assert changed and changed[0]["traceparent"].split("-")[1] == trace_id, changed
    # The relay's publish is a span of the same trace (OpenTelemetry's aiokafka instrumentation,
    # in the row's context): its Kafka `traceparent` header names the trace and the send span.
    header = dict(stage_messages[0].headers).get("traceparent", b"").decode()
    assert header.split("-")[1] == trace_id and header != changed[0]["traceparent"], stage_messages[0].headers

    def applied_lines():
        lines = (stack.log_dir / "forecast-svc.log").read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if trace_id in line and line.startswith("{")]

    found, _ = wait_for(applied_lines, lambda lines: any(
        line["msg"].startswith("applied kam.opportunity.stage_changed.v1") for line in lines), timeout=15)
    assert all(line["trace_id"] == trace_id for line in found)


def test_metrics_show_consumer_lag_per_partition_and_the_outbox_backlog(stack, org):
    def forecast_metrics():
        return api.http.get(f"{stack.url('forecast-svc')}/metrics").text

    api, _, _ = org
    text, _ = wait_for(forecast_metrics, lambda t: 'kam_consumer_lag{partition="' in t, timeout=15)
    lag_lines = [line for line in text.splitlines() if line.startswith("kam_consumer_lag{")]
    assert any('topic="kam.opportunity.events"' in line for line in lag_lines), lag_lines
    assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in lag_lines)
    opportunity = api.http.get(f"{stack.url('opportunity-svc')}/metrics").text
    assert 'kam_outbox_backlog{service="opportunity-svc"}' in opportunity
