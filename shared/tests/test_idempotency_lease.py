"""An Idempotency-Key whose request never answered (the process died mid-request) is a lease: a
retry is refused while it may still be running, and runs again once the lease has lapsed."""
import datetime as dt
import hashlib
import json
import uuid

from kam_shared.events import utcnow
from kam_shared.testing import bearer, service_client


def _fingerprint(body: bytes) -> str:  # what the middleware records for POST /v1/users with this body
    return hashlib.sha256(b"\n".join([b"POST", b"/v1/users", b"", body])).hexdigest()


async def _claim_left_by_a_dead_request(runtime, who: uuid.UUID, key: str, body: bytes, age: dt.timedelta) -> None:
    table = runtime.tables.idempotency
    async with runtime.db.session() as session, session.begin():
        await session.execute(table.insert().values(principal_id=str(who), key=key, fingerprint=_fingerprint(body),
                                                    created_at=utcnow() - age))


async def test_an_abandoned_key_is_taken_over_after_its_lease_and_not_before():
    admin = uuid.uuid4()
    async with service_client("team-svc") as client:
        runtime = client.runtime
        body = json.dumps({"email": f"{uuid.uuid4().hex[:8]}@lease.test", "name": "Lease", "role": "rep",
                           "password": "lamp-tiger-7"}).encode()
        await _claim_left_by_a_dead_request(runtime, admin, "fresh", body, dt.timedelta(seconds=2))
        await _claim_left_by_a_dead_request(runtime, admin, "lapsed", body, dt.timedelta(seconds=31))
        headers = {**bearer(admin, "admin"), "content-type": "application/json"}
        still_running = await client.post("/v1/users", content=body, headers={**headers, "Idempotency-Key": "fresh"})
        assert still_running.status_code == 409 and still_running.headers["retry-after"] == "1"
        retried = await client.post("/v1/users", content=body, headers={**headers, "Idempotency-Key": "lapsed"})
        assert retried.status_code == 201, retried.text
        again = await client.post("/v1/users", content=body, headers={**headers, "Idempotency-Key": "lapsed"})
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == retried.json()["id"]
