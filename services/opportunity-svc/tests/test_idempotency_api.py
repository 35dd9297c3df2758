"""`Idempotency-Key` on POST (kam_shared.idempotency, on every service): a retried create gets the
first answer back and creates nothing twice; the same key for another request is refused."""
import uuid

from kam_shared.testing import bearer


async def test_a_retried_create_returns_the_first_answer_and_creates_nothing_twice(world):
    rep = await world.user()
    account = await world.account(rep)
    body = world.body(account, rep)
    key = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    first = await world.client.post("/v1/opportunities", json=body, headers={**bearer(rep), **key})
    assert first.status_code == 201, first.text
    marker = await world.unchanged()
    again = await world.client.post("/v1/opportunities", json=body, headers={**bearer(rep), **key})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.headers["etag"] == first.headers["etag"]
    await world.assert_unchanged(marker)  # no second opportunity, no second event
    # Without the key, the same body is a second opportunity (what the key protects against).
    plain = await world.client.post("/v1/opportunities", json=body, headers=bearer(rep))
    assert plain.status_code == 201 and plain.json()["id"] != first.json()["id"]


async def test_the_same_key_for_another_request_or_another_path_is_422(world):
    rep = await world.user()
    account = await world.account(rep)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert (await world.client.post("/v1/opportunities", json=world.body(account, rep),
                                    headers={**bearer(rep), **key})).status_code == 201
    marker = await world.unchanged()
    other = await world.client.post("/v1/opportunities", json=world.body(account, rep, amount="1.00"),
                                    headers={**bearer(rep), **key})
    assert other.status_code == 422 and other.headers["content-type"].startswith("application/problem+json")
    assert "different request" in other.json()["detail"] and other.json()["field"] == "Idempotency-Key"
    await world.assert_unchanged(marker)


async def test_keys_belong_to_their_caller(world):
    rep, other_rep = await world.user(), await world.user()
    key = {"Idempotency-Key": "shared-looking-key"}
    mine = await world.client.post("/v1/opportunities", json=world.body(await world.account(rep), rep),
                                   headers={**bearer(rep), **key})
    theirs = await world.client.post("/v1/opportunities", json=world.body(await world.account(other_rep), other_rep),
                                     headers={**bearer(other_rep), **key})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"] and "idempotent-replayed" not in theirs.headers


async def test_refusals_are_replayed_but_5xx_and_bad_tokens_are_not_remembered(world):
    rep = await world.user()
    key = {"Idempotency-Key": f"bad-{uuid.uuid4()}"}
    body = world.body(await world.account(rep), rep, amount="-5.00")
    first = await world.client.post("/v1/opportunities", json=body, headers={**bearer(rep), **key})
    again = await world.client.post("/v1/opportunities", json=body, headers={**bearer(rep), **key})
    assert first.status_code == 422 and (again.status_code, again.json()) == (422, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    # An account opportunity-svc cannot check (account-svc unreachable here): 503, and the key is
    # released, so the retry runs again instead of replaying the outage.
    outage = {"Idempotency-Key": f"outage-{uuid.uuid4()}"}
    unknown_account = world.body(uuid.uuid4(), rep)
    for _ in range(2):
        resp = await world.client.post("/v1/opportunities", json=unknown_account, headers={**bearer(rep), **outage})
        assert resp.status_code == 503 and "idempotent-replayed" not in resp.headers
    unauthenticated = await world.client.post("/v1/opportunities", json=body,
                                              headers={"Authorization": "Bearer nonsense", **key})
    assert unauthenticated.status_code == 401


async def test_an_unusable_key_is_422_naming_the_header(world):
    rep = await world.user()
    resp = await world.client.post("/v1/opportunities", json=world.body(await world.account(rep), rep),
                                   headers={**bearer(rep), "Idempotency-Key": "x" * 201})
    assert resp.status_code == 422 and resp.json()["field"] == "Idempotency-Key"
