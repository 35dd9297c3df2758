"""Powers end when the user's role ends (issue 13, item 1), across services: a deactivation reaches
opportunity-svc within its user replica's lag (under 2 s) and ends every session; an admin's
revoke ends the refresh tokens at once; a demotion takes the powers away likewise."""
from __future__ import annotations

import time
import uuid

import httpx

from kam_shared.testing import wait_for

PASSWORD = "lamp-tiger-7"
REPLICA_LAG_S = 2.0


def _user(api, admin, role: str = "rep", superior: str | None = None) -> dict:
    email = f"revoke.{uuid.uuid4().hex[:8]}@e2e.test"
    resp = api.call("POST", "team-svc", "/v1/users", admin, json={
        "email": email, "name": f"Revocation {role}", "role": role, "password": PASSWORD,
        **({"superior_id": superior} if superior else {})})
    assert resp.status_code == 201, resp.text
    return {**resp.json(), "email": email}


def _pair(stack, email: str) -> dict:
    resp = httpx.post(f"{stack.url('team-svc')}/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _refresh(stack, token: str) -> httpx.Response:
    return httpx.post(f"{stack.url('team-svc')}/v1/auth/token",
                      data={"grant_type": "refresh_token", "refresh_token": token})


def _status(stack, service: str, path: str, access: str) -> int:
    return httpx.get(f"{stack.url(service)}{path}", headers={"Authorization": f"Bearer {access}"},
                     timeout=30).status_code


def test_deactivation_is_401_on_opportunity_svc_within_the_replica_lag_and_ends_the_refresh(stack, org):
    api, tokens, _ = org
    rep = _user(api, tokens["admin"])
    pair = _pair(stack, rep["email"])
    assert _status(stack, "opportunity-svc", "/v1/opportunities", pair["access_token"]) == 200
    gone = api.call("PATCH", "team-svc", f"/v1/users/{rep['id']}", {**tokens["admin"], "If-Match": '"1"'},
                    json={"active": False})
    assert gone.status_code == 200, gone.text
    answered = time.monotonic()
    _, refused_at = wait_for(lambda: _status(stack, "opportunity-svc", "/v1/opportunities", pair["access_token"]),
                             lambda s: s == 401, timeout=30)
    assert refused_at - answered < REPLICA_LAG_S, f"refused {refused_at - answered:.2f} s after the deactivation"
    # team-svc refuses at once (its own table), and the session cannot be refreshed back to life.
    assert _status(stack, "team-svc", "/v1/org-units", pair["access_token"]) == 401
    resp = _refresh(stack, pair["refresh_token"])
    assert resp.status_code == 401 and resp.json()["reason"] == "revoked", resp.text


def test_an_admin_revokes_a_users_sessions_and_refresh_is_refused_at_once(stack, org):
    api, tokens, _ = org
    rep = _user(api, tokens["admin"])
    laptop, phone = _pair(stack, rep["email"]), _pair(stack, rep["email"])
    resp = api.call("POST", "team-svc", f"/v1/users/{rep['id']}/revoke-sessions", tokens["admin"])
    assert resp.status_code == 200 and resp.json()["revoked_sessions"] == 2, resp.text
    for device in (laptop, phone):
        refused = _refresh(stack, device["refresh_token"])
        assert refused.status_code == 401 and refused.json()["reason"] == "revoked", refused.text
    # Not a deactivation: the user signs in again and works.
    again = _pair(stack, rep["email"])
    assert _status(stack, "opportunity-svc", "/v1/opportunities", again["access_token"]) == 200
    # Only an admin may do it, and an unknown user is 404.
    assert api.call("POST", "team-svc", f"/v1/users/{rep['id']}/revoke-sessions",
                    {"Authorization": f"Bearer {again['access_token']}"}).status_code == 403
    assert api.call("POST", "team-svc", f"/v1/users/{uuid.uuid4()}/revoke-sessions",
                    tokens["admin"]).status_code == 404


def test_a_demoted_admin_loses_admin_routes_on_another_service_and_refreshes_as_what_they_are_now(stack, org):
    api, tokens, _ = org
    admin = _user(api, tokens["admin"], role="admin")
    pair = _pair(stack, admin["email"])
    wait_for(lambda: _status(stack, "opportunity-svc", "/v1/admin/consumer", pair["access_token"]),
             lambda s: s == 200, timeout=30)
    demoted = api.call("PATCH", "team-svc", f"/v1/users/{admin['id']}", {**tokens["admin"], "If-Match": '"1"'},
                       json={"role": "rep"})
    assert demoted.status_code == 200, demoted.text
    wait_for(lambda: _status(stack, "opportunity-svc", "/v1/admin/consumer", pair["access_token"]),
             lambda s: s == 403, timeout=REPLICA_LAG_S + 8)
    new = _refresh(stack, pair["refresh_token"])
    assert new.status_code == 200, new.text
    assert _status(stack, "opportunity-svc", "/v1/admin/consumer", new.json()["access_token"]) == 403
