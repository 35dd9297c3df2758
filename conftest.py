"""Fixtures for every test in the repository: the real broker, started once per run."""
import pytest

from kam_shared.devstack import VAR, TansuBroker


@pytest.fixture(scope="session")
def broker():
    b = TansuBroker(log_path=VAR / "log" / "test-broker.log").start()
    yield b
    b.stop()
