"""One route table for the local gateway and the Kubernetes Ingress (kam_shared.gateway.ROUTES):
the committed Ingress is the one generated from it, and every public path each service declares in
its OpenAPI document is routed to that same service."""
import re
from pathlib import Path

import pytest
import yaml

from kam_shared.gateway import ROUTES, ingress_yaml, route_for
from kam_shared.services import SERVICES

INGRESS = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "base" / "ingress.yaml"

# Declared by two services; one origin can give a path one owner (ROUTES says which, and why).
SHARED_PATHS = {"/v1/attainment": {"forecast-svc", "team-svc"}}
OWNER_OF_SHARED = {"/v1/attainment": "forecast-svc"}


def openapi_paths(service: str, tmp_path) -> list[str]:
    info = SERVICES[service]
    settings = type(info.settings())(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                                     run_background_workers=False)
    app = __import__(f"{info.module}.main", fromlist=["create_app"]).create_app(settings)
    return list(app.openapi()["paths"])


def public(path: str) -> bool:
    """What clients call: /v1 and /.well-known, but not the per-service operator routes."""
    return path.startswith(("/v1/", "/.well-known/")) and not path.startswith("/v1/admin/")


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_committed_ingress_is_the_one_generated_from_the_route_table():
    assert INGRESS.read_text() == ingress_yaml(), (
        "deploy/k8s/base/ingress.yaml differs from kam_shared.gateway.ROUTES: regenerate it with "
        "`.venv/bin/python -m kam_shared.cli ingress > deploy/k8s/base/ingress.yaml`")


def test_ingress_routes_each_prefix_to_the_same_service_and_the_console_last():
    paths = [p for rule in yaml.safe_load(INGRESS.read_text())["spec"]["rules"] for p in rule["http"]["paths"]]
    routed = [(p["path"], p["backend"]["service"]["name"]) for p in paths]
    assert routed[:-1] == list(ROUTES)
    assert routed[-1] == ("/", "console")
    assert all(p["pathType"] == "Prefix" for p in paths)
    for prefix, service in routed[:-1]:
        assert route_for(prefix) == service and route_for(prefix + "/anything/below") == service


@pytest.mark.parametrize("path, owner", [
    ("/v1/org", "team-svc"), ("/v1/org/tree", "team-svc"), ("/v1/org-units/7", "team-svc"),
    ("/v1/orgx", None), ("/v1/accounts", "account-svc"), ("/v1/accounts/", "account-svc"),
    ("/v1/accountsx", None), ("/v1", None), ("/v1/", None), ("/", None), ("/accounts", None),
    ("/v1/admin/outbox/parked", None), ("/.well-known/jwks.json", "team-svc"), ("/.well-knownx", None),
    ("/v1/forecasts/1/submit", "forecast-svc"), ("/v1/forecast-principles/2026-Q4", "forecast-svc"),
])
def test_prefixes_match_whole_segments(path, owner):
    assert route_for(path) == owner


def test_every_public_openapi_path_is_routed_to_its_own_service(tmp_path):
    declared_by: dict[str, set[str]] = {}
    for service in SERVICES:
        for path in openapi_paths(service, tmp_path):
            if public(path):
                declared_by.setdefault(path, set()).add(service)
    assert len(declared_by) > 50  # the documents were read
    shared = {p: s for p, s in declared_by.items() if len(s) > 1}
    assert shared == SHARED_PATHS, "a path declared by two services can reach only one through the gateway"
    misrouted = {}
    for path, services in declared_by.items():
        expected = OWNER_OF_SHARED[path] if path in shared else next(iter(services))
        if route_for(concrete(path)) != expected:
            misrouted[path] = (route_for(concrete(path)), expected)
    assert not misrouted, f"path: (routed to, declared by): {misrouted}"
    dead = [prefix for prefix, service in ROUTES
            if not any(route_for(concrete(p)) == service and (concrete(p) + "/").startswith(prefix + "/")
                       for p in declared_by)]
    assert not dead, f"prefixes no declared path uses: {dead}"


def test_no_prefix_is_repeated_and_every_service_has_one():
    prefixes = [p for p, _ in ROUTES]
    assert len(prefixes) == len(set(prefixes))
    assert {s for _, s in ROUTES} == set(SERVICES)
