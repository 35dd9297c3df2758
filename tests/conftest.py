"""Shared by the cross-service tests: one running stack (broker + four services as processes)
per test session, a small organisation in it, and the helpers a client would write. The stack
starts its own broker, of the kind KAM_TEST_BROKER picks (see the root conftest)."""
import pytest

from kam_shared.devstack import Stack, free_port, stack_database_urls
from kam_shared.services import SERVICES
from kam_shared.testing import StackClient


@pytest.fixture(scope="session")
def stack(tmp_path_factory, broker_kind):
    urls, cleanup = stack_database_urls("e2e")
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    # The session's tokens (`org`) are fetched once; access tokens live 15 min in production, longer
    # than a whole test run here (tests of expiry and refresh make their own).
    s = Stack(database_urls=urls, ports={name: free_port() for name in SERVICES}, log_dir=log_dir,
              broker_kind=broker_kind, extra_env={"KAM_TOKEN_LIFETIME_S": "14400"})
    try:  # a stack that fails to start must not leave its databases behind either
        s.start()
        yield s
    finally:
        s.stop()
        cleanup()


@pytest.fixture(scope="session")
def org(stack):
    api = StackClient(stack)
    admin = api.token("admin@example.com", "kam-dev-passphrase")

    def user(email, role, superior=None):
        resp = api.call("POST", "team-svc", "/v1/users", admin, json={
            "email": email, "name": email.split("@")[0], "role": role, "password": "lamp-tiger-7",
            **({"superior_id": superior} if superior else {})})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    manager = user("manager@e2e.test", "manager")
    rep = user("rep@e2e.test", "rep", manager)
    peer = user("peer@e2e.test", "rep", manager)
    return api, {"admin": admin, "manager": api.token("manager@e2e.test", "lamp-tiger-7"),
                 "rep": api.token("rep@e2e.test", "lamp-tiger-7"),
                 "peer": api.token("peer@e2e.test", "lamp-tiger-7")}, \
        {"manager": manager, "rep": rep, "peer": peer}


@pytest.fixture(scope="session")
def gateway(stack) -> str:
    """The one-origin gateway (kam_shared.gateway) in front of the session's stack, on a free port,
    serving the console from KAM_CONSOLE_DIR (default web/dist): its base URL, e.g.
    "http://127.0.0.1:41234" (no trailing slash). Stopped with the stack."""
    url = stack.start_gateway()
    yield url
    stack.stop_gateway()
