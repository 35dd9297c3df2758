"""Fixtures for every test in the repository: the real broker, started once per run.

KAM_TEST_BROKER=kafka|tansu picks it (default kafka: Apache Kafka from deploy/kafka/pom.xml;
Tansu when java is missing, with a notice)."""
import pytest

from kam_shared.devstack import VAR, make_broker, test_broker_kind


@pytest.fixture(scope="session")
def broker_kind():
    return test_broker_kind()


@pytest.fixture(scope="session")
def broker(broker_kind):
    b = make_broker(broker_kind, log_path=VAR / "log" / f"test-broker-{broker_kind}.log").start()
    yield b
    b.stop()
