"""The audit trail of forecast records (kam_shared.audit): who changed which figure or status, paged,
404 for a record the caller may not see, the admin query across records."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from kam_shared.events import DomainEvent, OpportunityCreated, OpportunityState, utcnow
from kam_shared.testing import bearer, feed, service_client, user_event

MANAGER, REP, OUTSIDER = (uuid.uuid4() for _ in range(3))


@pytest.fixture(scope="module")
async def forecast():
    async with service_client("forecast-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER),
                   user_event(OUTSIDER, "rep", None))
        state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal("9000.00"),
                                 currency="CNY", close_date=dt.date(2027, 3, 9), owner_id=REP, stage=6,
                                 probability=70, status="open", version=1, updated_at=utcnow(), confirmed=True)
        await feed(client.runtime, DomainEvent("kam.opportunity.created.v1", state.id, 1, OpportunityCreated(
            opportunity=state)).to_cloudevent("/kam/opportunity-svc"))
        yield client


async def test_forecast_record_history(forecast):
    created = await forecast.post("/v1/forecasts", json={"period": "2027-03"}, headers=bearer(REP))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    adjusted = await forecast.post(f"/v1/forecasts/{rid}/adjustments", headers=bearer(REP),
                                   json={"amount": "6000.00", "reason": "tender postponed"})
    assert adjusted.status_code == 201, adjusted.text
    submitted = await forecast.post(f"/v1/forecasts/{rid}/submit", headers=bearer(REP))
    assert submitted.status_code == 200, submitted.text

    page = (await forecast.get(f"/v1/forecasts/{rid}/history", headers=bearer(MANAGER, "manager"))).json()
    assert [e["version"] for e in page["items"]] == [1, 2, 3]
    assert all(e["actor_id"] == str(REP) for e in page["items"])
    fields = {c["field"]: c for c in page["items"][1]["changes"]}
    assert any(f.endswith("commit") and c["to"] == "6000.00" for f, c in fields.items()), fields
    assert any(c["field"] == "status" and c["to"] == "submitted" for c in page["items"][2]["changes"])

    first = (await forecast.get(f"/v1/forecasts/{rid}/history?limit=2", headers=bearer(REP))).json()
    rest = (await forecast.get(f"/v1/forecasts/{rid}/history?limit=2&cursor={first['next_cursor']}",
                               headers=bearer(REP))).json()
    assert first["items"] + rest["items"] == page["items"] and rest["next_cursor"] is None

    hidden = await forecast.get(f"/v1/forecasts/{rid}/history", headers=bearer(OUTSIDER))
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("application/problem+json")
    assert (await forecast.get(f"/v1/forecasts/{rid}", headers=bearer(OUTSIDER))).status_code == 404

    admin = bearer(uuid.uuid4(), "admin")
    found = await forecast.get("/v1/admin/audit", headers=admin,
                               params={"actor": str(REP), "type": "kam.forecast.submitted.v1"})
    assert found.status_code == 200, found.text
    assert [(e["subject"], e["version"]) for e in found.json()["items"]] == [(rid, 3)]
    assert (await forecast.get("/v1/admin/audit", headers=bearer(REP))).status_code == 403
