"""Value assessment and tender details over HTTP."""
import json

import pytest

from kam_shared.testing import bearer
from opportunity_svc.opportunities.domain.assessment import QUESTION_KEYS
from opportunity_svc.opportunities.models import assessments


def answers(yes: int) -> dict[str, bool]:
    return {key: i < yes for i, key in enumerate(QUESTION_KEYS)}


async def test_questions_are_published_for_clients(world):
    dims = (await world.client.get("/v1/opportunities/assessment-questions", headers=bearer(await world.user()))).json()
    assert [d["key"] for d in dims] == ["is_there_an_opportunity", "can_we_compete", "can_we_win", "worth_winning"]
    assert [q["key"] for d in dims for q in d["questions"]] == list(QUESTION_KEYS) and len(QUESTION_KEYS) == 20


async def test_assessment_scores_flags_high_value_and_keeps_history(world):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}/assessment"
    first = await world.client.put(url, headers={**bearer(rep), "If-Match": '"1"'}, json={"answers": answers(10)})
    assert first.status_code == 200, first.text
    a = first.json()
    assert (a["number"], a["total"], a["high_value"], a["opportunity_version"]) == (1, 10, False, 2)
    assert [(d["key"], d["score"]) for d in a["dimensions"]] == [
        ("is_there_an_opportunity", 5), ("can_we_compete", 5), ("can_we_win", 0), ("worth_winning", 0)]
    assert first.headers["etag"] == '"2"'

    second = (await world.client.put(url, headers=bearer(rep), json={"answers": answers(11)})).json()
    assert (second["number"], second["total"], second["high_value"]) == (2, 11, True)
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.assessment_recorded.v1" and event["sequence"] == 3
    assert event["data"]["total"] == {"from": 10, "to": 11}
    assert event["data"]["high_value"] == {"from": False, "to": True}
    assert event["data"]["assessment"]["dimensions"][2]["score"] == 1
    assert (event["data"]["opportunity"]["assessment_total"], event["data"]["opportunity"]["high_value"]) == (11, True)

    got = (await world.client.get(f"/v1/opportunities/{o['id']}", headers=bearer(rep))).json()
    assert (got["assessment_total"], got["high_value"]) == (11, True)
    assert (await world.client.get(url, headers=bearer(rep))).json()["number"] == 2
    history = (await world.client.get(f"{url}s", headers=bearer(rep))).json()
    assert [(h["number"], h["total"]) for h in history] == [(1, 10), (2, 11)]


def _drop(key):
    given = answers(5)
    del given[key]
    return given


@pytest.mark.parametrize("payload, mentions", [
    ({"answers": _drop("risk_low")}, "missing answers: risk_low"),
    ({"answers": {**answers(5), "gut_feeling": True}}, "unknown questions: gut_feeling"),
    ({"answers": {**answers(5), "margin_high": "yes"}}, "margin_high"),
    ({"answers": {**answers(5), "margin_high": None}}, "margin_high"),
    ({}, "answers"),
    ({"answers": answers(5), "total": 20}, "total"),
])
async def test_bad_assessments_write_nothing(world, problem, payload, mentions):
    rep = await world.user()
    o = await world.opportunity(rep)
    marker = await world.unchanged(assessments)
    body = problem(await world.client.put(f"/v1/opportunities/{o['id']}/assessment", headers=bearer(rep),
                                          json=payload), 422, mentions)
    if "missing" in mentions:
        assert body["missing"] == ["risk_low"]
    await world.assert_unchanged(marker, assessments)
    problem(await world.client.get(f"/v1/opportunities/{o['id']}/assessment", headers=bearer(rep)), 404,
            "not been assessed")


TENDER = {
    "sales_mode": "bid", "tender_type": "open_second_quote", "single_quote_only": False,
    "lots": [{"number": 2, "name": "Branch network", "amount": "300000"}, {"number": 1, "name": "Head office"}],
    "partners": [{"name": "Huabei Systems", "role": "agent", "credit_standing": "good"}],
    "bid_plan": "us_and_agents_several_plans", "delivery_date": "2027-06-30", "delivery_place": "Beijing HQ",
    "evaluation_weights": {"price": 40, "service": 15, "technical": 35, "commercial": 10},
    "impact_if_lost": "very_high", "competing_brands": ["Rival Systems", "rival systems", "Acme"],
    "background": "Replacing a 15-year-old core.", "relationship_degree": "considerable",
}


async def test_tender_details_round_trip_with_an_event(world):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}/tender"
    resp = await world.client.put(url, headers={**bearer(rep), "If-Match": '"1"'}, json=TENDER)
    assert resp.status_code == 200, resp.text
    t = resp.json()
    assert [lot["number"] for lot in t["lots"]] == [1, 2] and t["lots"][1]["amount"] == "300000.00"
    assert t["competing_brands"] == ["Rival Systems", "Acme"] and resp.headers["etag"] == '"2"'
    assert (await world.client.get(url, headers=bearer(rep))).json() == t
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.tender_updated.v1"
    assert event["data"]["tender"] == t and event["data"]["opportunity"]["tender"] == t
    assert "evaluation_weights" in event["data"]["changes"] and event["data"]["changes"]["sales_mode"] == {
        "from": None, "to": "bid"}
    changed = await world.client.put(url, headers=bearer(rep), json={**TENDER, "impact_if_lost": "critical"})
    assert changed.json()["impact_if_lost"] == "critical"
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["data"]["changes"] == {"impact_if_lost": {"from": "very_high", "to": "critical"}}


@pytest.mark.parametrize("override, mentions", [
    ({"evaluation_weights": {"price": 50, "service": 15, "technical": 35, "commercial": 10}}, "sum to 100"),
    ({"evaluation_weights": {"price": 40, "service": 15, "technical": 35}}, "commercial"),
    ({"single_quote_only": True}, "single_quote_only"),
    ({"sales_mode": "distribution"}, "tender_type"),
    ({"sales_mode": "barter"}, "sales_mode"),
    ({"tender_type": "sealed"}, "tender_type"),
    ({"bid_plan": "whatever"}, "bid_plan"),
    ({"impact_if_lost": "huge"}, "impact_if_lost"),
    ({"relationship_degree": "friends"}, "relationship_degree"),
    ({"lots": [{"number": 1, "name": "A"}, {"number": 1, "name": "B"}]}, "lots"),
    ({"lots": [{"number": 1, "name": "A", "amount": "-5"}]}, "amount"),
    ({"partners": [{"name": "X", "credit_standing": "AAA"}]}, "credit_standing"),
    ({"delivery_date": "soon"}, "delivery_date"),
    ({"discount": 5}, "discount"),
    ({"lots": [{"number": 1, "name": "A", "colour": "red"}]}, "colour"),
    ({"evaluation_weights": {"price": 40, "service": 15, "technical": 35, "commercial": 10, "mood": 0}}, "mood"),
])
async def test_bad_tender_details_write_nothing(world, problem, override, mentions):
    rep = await world.user()
    o = await world.opportunity(rep)
    marker = await world.unchanged()
    problem(await world.client.put(f"/v1/opportunities/{o['id']}/tender", headers=bearer(rep),
                                   json={**TENDER, **override}), 422, mentions)
    await world.assert_unchanged(marker)
    problem(await world.client.get(f"/v1/opportunities/{o['id']}/tender", headers=bearer(rep)), 404,
            "no tender details")
