"""Authority comes from the user's current state in the service's user replica, not from what the
token said when it was issued (issue 13, item 1: deactivation and demotion take effect at once)."""
import time
import uuid

import jwt

from kam_shared.events import CloudEvent, DomainEvent, UserState, UserUpdated
from kam_shared.testing import bearer, feed, service_client, signing_key_for_tests, user_event


def _updated(user_id, role, version, active=True) -> CloudEvent:
    state = UserState(id=user_id, email="u@test.example", name="u", role=role, superior_id=None, active=active,
                      version=version)
    return DomainEvent("kam.team.user_updated.v1", user_id, version, UserUpdated(user=state)) \
        .to_cloudevent("/kam/team-svc")


async def test_a_demoted_admin_loses_admin_routes_and_a_deactivated_user_is_refused():
    admin = uuid.uuid4()
    async with service_client("opportunity-svc") as client:
        client.runtime.authority.ttl_s = 0  # look the user up on every request: no wait in the test
        await feed(client.runtime, user_event(admin, "admin", None))
        token = bearer(admin, "admin")
        assert (await client.get("/v1/admin/consumer", headers=token)).status_code == 200

        await feed(client.runtime, _updated(admin, "rep", 2))  # demoted; the token still says admin
        demoted = await client.get("/v1/admin/consumer", headers=token)
        assert demoted.status_code == 403, demoted.text

        await feed(client.runtime, _updated(admin, "rep", 3, active=False))
        refused = await client.get("/v1/opportunities", headers=token)
        assert refused.status_code == 401 and "deactivated" in refused.json()["detail"]
        assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_a_user_the_replica_does_not_know_yet_keeps_the_token_claims():
    async with service_client("opportunity-svc") as client:
        resp = await client.get("/v1/admin/consumer", headers=bearer(uuid.uuid4(), "admin"))
    assert resp.status_code == 200


async def test_numeric_date_claims_must_be_numbers():
    now = int(time.time())
    key = signing_key_for_tests()
    claims = {"iss": "kam-team-svc", "aud": "kam", "sub": str(uuid.uuid4()), "role": "rep", "iat": now,
              "nbf": now, "exp": str(now + 3600)}
    token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"})
    async with service_client("opportunity-svc") as client:
        resp = await client.get("/v1/opportunities", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
