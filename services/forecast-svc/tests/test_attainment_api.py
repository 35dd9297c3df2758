"""Quota attainment over HTTP: quotas replicated from team-svc's events, won and the live forecast
from the roll-ups, per node and for each direct report."""
import datetime as dt
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from forecast_svc.health.models import quota_replica
from forecast_svc.health.service import rebuild_quotas
from kam_shared.auth import Principal
from kam_shared.errors import Forbidden, UpstreamUnavailable
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event

ADMIN, HEAD, LEAD, R1, R2, OUTSIDER = (uuid.uuid4() for _ in range(6))
TEAM_UNIT = uuid.uuid4()  # the org unit LEAD manages
ROLE = {ADMIN: "admin", HEAD: "manager", LEAD: "manager"}
Q4 = dt.date(2026, 11, 10)


@pytest.fixture(scope="module")
async def forecast(events):
    Opp = events.Opportunity
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(ADMIN, "admin", None), user_event(HEAD, "manager", None),
                   user_event(LEAD, "manager", HEAD), user_event(R1, "rep", LEAD), user_event(R2, "rep", LEAD),
                   user_event(OUTSIDER, "rep", None))
        won_r1, won_r2 = Opp(R1, "300.00", Q4, confirmed=True), Opp(R2, "200.00", Q4, confirmed=True)
        unconfirmed_won = Opp(R2, "50.00", Q4)
        await feed(client.runtime,
                   won_r1.created(), won_r1.close(), won_r2.created(), won_r2.close(),
                   unconfirmed_won.created(), unconfirmed_won.close(),  # won, but not in any forecast
                   *Opp(R1, "400.00", Q4, confirmed=True).at_stage(6),  # commit
                   *Opp(R2, "100.00", Q4, confirmed=True).at_stage(4),  # best case
                   *Opp(R2, "1000.00", Q4).at_stage(7),  # commit by stage, but unconfirmed
                   *Opp(R1, "80.00", Q4, confirmed=True).at_stage(1),  # pipeline
                   *Opp(R1, "9.00", Q4, currency="USD", confirmed=True).at_stage(6),
                   *Opp(OUTSIDER, "5000.00", Q4, confirmed=True).at_stage(6))
        yield client


async def attainment(client, node, period="2026-Q4", who=None, **params):
    who = who or node
    return await client.get("/v1/attainment", params={"node": str(node), "period": period, **params},
                            headers=bearer(who, ROLE.get(who, "rep")))


def figures(body) -> tuple:
    return (body["quota"], body["quota_status"], body["won"], body["forecast_commit"], body["forecast_best_case"],
            body["gap"], body["attainment_pct"], body["forecast_attainment_pct"])


async def test_without_a_quota_the_figures_are_there_and_the_percentages_null(forecast):
    body = (await attainment(forecast, LEAD, period="2026-12")).json()
    assert figures(body) == (None, None, "0.00", "0.00", "0.00", None, None, None)
    body = (await attainment(forecast, R2)).json()
    # won counts every closed-won; the forecast only confirmed ones: closed 200 + commit 0; best case + 100.
    assert figures(body) == (None, None, "250.00", "200.00", "300.00", None, None, None)
    assert body["children"] == [] and body["quotas"] == []


async def test_quota_events_created_approved_revised_change_the_answer(forecast, events):
    team = events.Quota(LEAD, "2000.00", owner_kind="org_unit", owner_id=TEAM_UNIT)
    await feed(forecast.runtime, team.created())
    # Won over LEAD's subtree 550 (300 + 200 + 50 unconfirmed); forecast: closed 500 + commit 400 = 900;
    # best case + 100 = 1000.
    assert figures((await attainment(forecast, LEAD)).json()) == \
        ("2000.00", "draft", "550.00", "900.00", "1000.00", "1450.00", "27.5", "45.0")

    await feed(forecast.runtime, team.submitted(), team.approved(by=HEAD))
    body = (await attainment(forecast, LEAD)).json()
    assert (body["quota"], body["quota_status"]) == ("2000.00", "approved")
    assert body["quotas"] == [{"id": str(team.state.id), "owner_kind": "org_unit", "owner_id": str(TEAM_UNIT),
                               "period": "FY2026-Q4", "status": "approved", "revision": 1, "amount": "2000.00",
                               "approved_amount": "2000.00"}]

    # A revision is a draft again: the approved target still counts until the new one is approved.
    revised = team.revised("2500.00", by=HEAD)
    await feed(forecast.runtime, revised)
    body = (await attainment(forecast, LEAD)).json()
    assert (body["quota"], body["quota_status"], body["quotas"][0]["amount"], body["quotas"][0]["revision"]) == \
        ("2000.00", "draft", "2500.00", 2)
    await feed(forecast.runtime, team.submitted(), team.approved(by=HEAD))
    assert figures((await attainment(forecast, LEAD)).json()) == \
        ("2500.00", "approved", "550.00", "900.00", "1000.00", "1950.00", "22.0", "36.0")

    # Redelivered or out-of-order events change nothing: the version guard keeps the newest state.
    await feed(forecast.runtime, revised, team.created())
    assert (await attainment(forecast, LEAD)).json()["quota"] == "2500.00"


async def test_a_manager_sees_each_direct_report_and_a_quota_exceeded_has_a_negative_gap(forecast, events):
    mine = events.Quota(R1, "250.00")
    dollars = events.Quota(R2, "70.00", currency="USD")
    await feed(forecast.runtime, mine.created(), mine.submitted(), mine.approved(by=LEAD), dollars.created())
    body = (await attainment(forecast, LEAD)).json()
    children = {c["node"]: c for c in body["children"]}
    assert list(children) == sorted(children, key=lambda n: children[n]["name"]) and set(children) == {str(R1), str(R2)}
    # R1: won 300 against 250: gap −50, 120%; forecast closed 300 + commit 400 = 700; the USD deal is not summed.
    assert figures(children[str(R1)]) == ("250.00", "approved", "300.00", "700.00", "700.00", "-50.00", "120.0",
                                          "280.0")
    assert children[str(R1)]["other_opportunity_currencies"] == ["USD"]
    # R2's only quota is in USD: not converted, reported beside.
    assert children[str(R2)]["quota"] is None and children[str(R2)]["attainment_pct"] is None
    assert children[str(R2)]["other_currencies"] == [{"currency": "USD", "quota": "70.00", "quota_status": "draft"}]
    usd = (await attainment(forecast, R2, currency="USD")).json()
    assert (usd["quota"], usd["won"], usd["other_currencies"]) == ("70.00", "0.00", [])

    head = (await attainment(forecast, HEAD)).json()
    assert head["quota"] is None and [c["node"] for c in head["children"]] == [str(LEAD)]
    assert head["won"] == head["children"][0]["won"] == "550.00"
    assert head["children"][0]["quota"] == "2500.00"


async def test_a_period_with_other_dates_does_not_pick_up_the_quota(forecast):
    # The quotas are for FY2026-Q4 (Oct–Dec 2026): November alone, or the year, has no quota.
    for period in ("2026-11", "2026", "FY2026"):
        assert (await attainment(forecast, LEAD, period=period)).json()["quota"] is None
    assert (await attainment(forecast, LEAD, period="FY2026-Q4")).json()["quota"] == "2500.00"


@pytest.mark.parametrize("node, who, status, mentions", [
    (LEAD, R1, 404, "not found"),  # a rep cannot see their manager
    (R1, OUTSIDER, 404, "not found"),
    ("ghost", HEAD, 404, "not found"),
])
async def test_nodes_one_may_not_see_or_that_do_not_exist_are_404(forecast, node, who, status, mentions):
    node = uuid.uuid4() if node == "ghost" else node
    resp = await attainment(forecast, node, who=who)
    assert resp.status_code == status and mentions in resp.json()["detail"]
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("params, mentions", [
    ({"period": "2026-Q9"}, "period"), ({"period": "next"}, "period"), ({"currency": "ABC"}, "currency"),
])
async def test_bad_queries_are_422_naming_the_parameter(forecast, params, mentions):
    resp = await forecast.get("/v1/attainment", params={"node": str(R1), "period": "2026-Q4", **params},
                              headers=bearer(R1, "rep"))
    assert resp.status_code == 422
    assert mentions in resp.json()["detail"] + str(resp.json().get("field"))


def team_svc_pages(pages: list[list[dict]]):
    """team-svc's GET /v1/quotas, paged by cursor, as an in-process transport."""
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/quotas" and request.headers["authorization"].startswith("Bearer ")
        index = int(request.url.params.get("cursor", "0"))
        more = index + 1 < len(pages)
        return httpx.Response(200, json={"items": pages[index], "next_cursor": str(index + 1) if more else None})
    return lambda: httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://team-svc")


def as_listed(quota_state, **changes) -> dict:
    """A quota as GET /v1/quotas shows it (QuotaOut): the state plus team-svc's own fields."""
    item = quota_state.model_dump(mode="json") | {"allocation_method": None, "created_at": "2026-09-01T00:00:00Z",
                                                  "updated_at": "2026-09-02T00:00:00Z"}
    return item | changes


async def test_rebuild_pages_team_svc_quotas_and_keeps_the_newer_of_replica_and_snapshot(forecast, events):
    missed = events.Quota(R2, "800.00")  # an event forecast-svc never saw
    missed.approved()
    stale = events.Quota(LEAD, "1.00", owner_kind="org_unit", owner_id=TEAM_UNIT)
    async with forecast.runtime.db.session() as session:
        held = dict((await session.execute(select(quota_replica).where(
            quota_replica.c.responsible_user_id == LEAD))).mappings().one())
    stale.state = stale.state.model_copy(update={"id": held["id"], "version": held["version"] - 1})
    forecast.runtime.peers["team-svc"] = team_svc_pages([[as_listed(missed.state)], [as_listed(stale.state)]])
    try:
        admin = Principal(ADMIN, "admin", "admin@test.example", token="t")
        assert await rebuild_quotas(forecast.runtime, admin) == 2
        with pytest.raises(Forbidden):
            await rebuild_quotas(forecast.runtime, Principal(LEAD, "manager", "lead@test.example", token="t"))
    finally:
        forecast.runtime.peers.pop("team-svc")
    r2 = (await attainment(forecast, R2)).json()
    assert (r2["quota"], r2["quota_status"], r2["attainment_pct"]) == ("800.00", "approved", "31.3")  # 250 / 800
    assert (await attainment(forecast, LEAD)).json()["quota"] == "2500.00"  # the older snapshot row lost


async def test_a_failed_rebuild_writes_nothing(forecast):
    async def count():
        async with forecast.runtime.db.session() as session:
            return await session.scalar(select(func.count()).select_from(quota_replica)), \
                len(await outbox_rows(forecast.runtime))

    def down(request):
        raise httpx.ConnectError("refused")
    before = await count()
    forecast.runtime.peers["team-svc"] = lambda: httpx.AsyncClient(transport=httpx.MockTransport(down),
                                                                         base_url="http://team-svc")
    try:
        with pytest.raises(UpstreamUnavailable):
            await rebuild_quotas(forecast.runtime, Principal(ADMIN, "admin", "a@test.example", token="t"))
    finally:
        forecast.runtime.peers.pop("team-svc")
    assert await count() == before
