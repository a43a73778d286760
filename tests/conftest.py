"""Shared fixtures: a real Kafka broker, topic factory, and CI strictness.

``DRIFTD_TEST_BOOTSTRAP=host:port`` points the integration tests at an existing broker instead
of starting one, and ``DRIFTD_TEST_SCHEMA_REGISTRY=url`` at an existing schema registry's
Confluent-compatible API instead of building and starting Apicurio (tests/registry/). With
``CI=true`` a broker or registry that cannot be started fails the run, and so does any
skipped test: CI never passes with tests silently not run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from tests.kafka.client import apply as apply_kafka_client

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# No per-example deadline: the first example of a property pays for Numba compiling its
# kernels, which made deadline checks fail at random ("FlakyFailure"). Speed is measured in
# bench/, never in tests.
settings.register_profile("driftd", deadline=None)
settings.load_profile("driftd")

# DRIFTD_TEST_KAFKA_CLIENT=kafka-python|librdkafka: the client of every test daemon whose
# config names none (tests/kafka/client.py); scripts/test.sh runs the Kafka suites on both.
apply_kafka_client()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[object | None]:
    """The broker started for this session (None when DRIFTD_TEST_BOOTSTRAP is used)."""
    if os.environ.get("DRIFTD_TEST_BOOTSTRAP"):
        yield None
        return
    from tests.kafka.broker import BrokerError, KafkaBroker

    try:
        broker = KafkaBroker().start()
    except (BrokerError, OSError) as exc:
        if CI:
            pytest.fail(f"CI=true and the Kafka broker could not be started: {exc}")
        pytest.skip(f"no Kafka broker (set DRIFTD_TEST_BOOTSTRAP to use your own): {exc}")
    yield broker
    broker.cleanup()


def _registry() -> object:
    from tests.registry.server import RegistryError, SchemaRegistry

    try:
        registry = SchemaRegistry()
        registry.start()
    except (RegistryError, OSError) as exc:
        if CI:
            pytest.fail(f"CI=true and the test schema registry could not be started: {exc}")
        pytest.skip(f"no schema registry (set DRIFTD_TEST_SCHEMA_REGISTRY to use yours): {exc}")
    return registry


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """The Confluent-compatible API of a real schema registry: Apicurio started for the
    session, or ``DRIFTD_TEST_SCHEMA_REGISTRY``'s."""
    env = os.environ.get("DRIFTD_TEST_SCHEMA_REGISTRY")
    if env:
        yield env
        return
    registry = _registry()
    yield registry.url  # type: ignore[attr-defined]
    registry.stop()  # type: ignore[attr-defined]


@pytest.fixture
def own_schema_registry() -> Iterator[object]:
    """A schema registry of this test alone, which it may stop and start (an outage)."""
    registry = _registry()
    yield registry
    registry.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: object | None) -> str:
    """host:port of a running Kafka broker."""
    env = os.environ.get("DRIFTD_TEST_BOOTSTRAP")
    if env:
        return env
    return kafka_broker.bootstrap  # type: ignore[attr-defined]


@pytest.fixture
def make_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Create uniquely named topics for one test; deleted afterwards."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="driftd-tests")
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1, configs: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        options = {"num_partitions": partitions, "replication_factor": 1}
        admin.create_topics(
            {name: {**options, **({"configs": configs} if configs else {})}},
            wait_for_metadata=True,
        )
        created.append(name)
        return name

    yield make
    if created:
        admin.delete_topics(created)
    admin.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a skipped test fails the run."""
    if not CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI=true: {skipped} test(s) skipped; failing the run", red=True)
        session.exitstatus = 1
