"""Security headers and CORS on every service (issue 13, item 5), from the running processes:
what a browser is told about framing, sniffing, referrers, caching and TLS, and which origins may
call the API."""
from __future__ import annotations

import time

import httpx
import pytest

from kam_shared.devstack import Stack, free_port, stack_database_urls
from kam_shared.services import SERVICES

ALWAYS = {"x-content-type-options": "nosniff", "content-security-policy": "frame-ancestors 'none'",
          "x-frame-options": "DENY", "referrer-policy": "no-referrer"}
CONSOLE = "https://console.kam.example"


def assert_security_headers(resp: httpx.Response, where: str) -> None:
    for name, value in ALWAYS.items():
        assert resp.headers.get(name) == value, f"{where}: {name} is {resp.headers.get(name)!r}"


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_answer_of_every_service_carries_the_security_headers_and_no_cors_by_default(stack, org, service):
    _, tokens, _ = org
    with httpx.Client(base_url=stack.url(service), timeout=30) as http:
        # A browser claiming TLS through X-Forwarded-Proto from the loopback: not a trusted proxy here.
        spoofed = {"Origin": CONSOLE, "X-Forwarded-Proto": "https"}
        answers = {
            "health": http.get("/healthz", headers=spoofed),
            "api": http.get("/v1/admin/outbox/parked", headers={**tokens["admin"], **spoofed}),
            "401": http.get("/v1/admin/outbox/parked", headers=spoofed),
            "404": http.get("/v1/no-such-route", headers=spoofed),
            "422": http.get("/v1/admin/outbox/parked", params={"limit": "x\x00"}, headers={**tokens["admin"],
                                                                                          **spoofed}),
        }
        for what, resp in answers.items():
            where = f"{service} {what} ({resp.status_code})"
            assert_security_headers(resp, where)
            assert "strict-transport-security" not in resp.headers, where
            assert "access-control-allow-origin" not in resp.headers, where
        assert answers["api"].status_code == 200, answers["api"].text
        assert answers["api"].headers["cache-control"] == "no-store"
        preflight = http.options("/v1/admin/outbox/parked", headers={
            "Origin": CONSOLE, "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in preflight.headers


def test_tokens_and_personal_data_are_not_stored_by_caches_and_the_jwks_may_be(stack, org):
    api, tokens, ids = org
    token = httpx.post(f"{stack.url('team-svc')}/v1/auth/token", data={"username": "rep@e2e.test",
                                                                         "password": "lamp-tiger-7"}, timeout=30)
    assert token.status_code == 200 and token.headers["cache-control"] == "no-store"
    refused = httpx.post(f"{stack.url('team-svc')}/v1/auth/token", data={"username": "rep@e2e.test",
                                                                           "password": "wrong"}, timeout=30)
    assert refused.status_code in (400, 401) and refused.headers["cache-control"] == "no-store"
    user = api.call("GET", "team-svc", f"/v1/users/{ids['rep']}", tokens["rep"])
    assert user.status_code == 200 and user.headers["cache-control"] == "no-store"
    jwks = httpx.get(f"{stack.url('team-svc')}/.well-known/jwks.json", timeout=30)
    assert jwks.headers["cache-control"].startswith("public")


@pytest.fixture(scope="module")
def configured_team_svc(stack):
    """A second team-svc with an allow-list and a trusted proxy (the loopback, standing in for the
    Ingress). No relay or consumer: it shares the test broker, and must not join team-svc's group."""
    urls, cleanup = stack_database_urls("headers")
    extra = Stack(database_urls=urls, ports={name: free_port() for name in SERVICES}, bootstrap=stack.bootstrap,
                  log_dir=stack.log_dir / "configured-team-svc", services=["team-svc"],
                  extra_env={"KAM_CORS_ALLOW_ORIGINS": f"{CONSOLE}, https://other.kam.example",
                             "KAM_TRUSTED_PROXIES": "127.0.0.1", "RUN_BACKGROUND_WORKERS": "false"})
    extra.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        extra.start_service("team-svc")
        deadline = time.monotonic() + 120
        while True:
            assert extra.procs["team-svc"].poll() is None, f"team-svc exited; see {extra.log_dir}"
            try:
                if httpx.get(f"{extra.url('team-svc')}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "configured team-svc did not start"
            time.sleep(0.2)
        yield extra.url("team-svc")
    finally:
        extra.stop()
        cleanup()


def test_cors_answers_only_the_allowed_origins(configured_team_svc):
    with httpx.Client(base_url=configured_team_svc, timeout=30) as http:
        preflight = http.options("/v1/users", headers={"Origin": CONSOLE, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == CONSOLE
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        simple = http.get("/healthz", headers={"Origin": CONSOLE})
        assert simple.headers["access-control-allow-origin"] == CONSOLE
        assert "ETag" in simple.headers["access-control-expose-headers"]
        stranger = http.options("/v1/users", headers={"Origin": "https://evil.example",
                                                       "Access-Control-Request-Method": "POST"})
        assert stranger.headers.get("access-control-allow-origin") != "https://evil.example"
        assert "access-control-allow-origin" not in http.get("/healthz", headers={"Origin": "https://evil.example"}
                                                             ).headers


def test_hsts_only_when_a_trusted_proxy_says_the_request_came_over_tls(configured_team_svc):
    with httpx.Client(base_url=configured_team_svc, timeout=30) as http:
        over_tls = http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert over_tls.headers["strict-transport-security"].startswith("max-age=")
        assert_security_headers(over_tls, "behind TLS")
        assert "strict-transport-security" not in http.get("/healthz").headers
