"""Schemathesis (property-based, from each service's own OpenAPI document) against every running
service, with an admin's bearer token: no generated request may get a 5xx. Bounded and seeded so
it takes a few minutes and finds the same things each run.

It runs against a stack of its own (Tansu broker, fresh databases): the fuzzer changes shared
settings an admin may change (the stage model, the fiscal calendar, signing keys), which the other
tests' stack must not see. Only `not_a_server_error` is checked: `status_code_conformance` needs
every route's error codes declared in the documents, which is being done separately."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.devstack import REPO_ROOT, Stack, free_port, stack_database_urls
from kam_shared.services import SERVICES
from kam_shared.testing import StackClient

MAX_EXAMPLES = int(os.environ.get("KAM_SCHEMATHESIS_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory):
    urls, cleanup = stack_database_urls("fuzz")
    stack = Stack(database_urls=urls, ports={name: free_port() for name in SERVICES},
                  log_dir=tmp_path_factory.mktemp("fuzz-logs"), broker_kind="tansu",
                  # the one admin token below must outlive the whole fuzzing (15 min by default)
                  extra_env={"KAM_TOKEN_LIFETIME_S": "14400"})
    try:
        stack.start()
        # Signed in once, before any fuzzing: fuzzing team-svc as admin may change or reset the
        # admin's own password (valid requests, as intended), and the next service is still fuzzed.
        stack.admin_token = StackClient(stack).token(DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)["Authorization"]
        yield stack
    finally:
        stack.stop()
        cleanup()


# team-svc last: what its fuzzing changes (users, passwords, signing keys) cannot disturb the others'.
@pytest.mark.parametrize("service", sorted(SERVICES, key=lambda name: name == "team-svc"))
def test_no_generated_request_gets_a_server_error(fuzzed_stack, service, tmp_path):
    token = fuzzed_stack.admin_token
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{fuzzed_stack.url(service)}/openapi.json",
               "--header", f"Authorization: {token}", "--checks", "not_a_server_error",
               "--phases", "examples,fuzzing", "--max-examples", str(MAX_EXAMPLES),
               "--generation-deterministic", "--workers", "2", "--suppress-health-check", "all",
               "--no-color", "--report-dir", str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    tail = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"schemathesis found failures on {service}:\n{tail}"
    assert " passed" in run.stdout, tail
