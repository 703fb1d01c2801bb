"""Shared fixtures: a real local stack (Kafka, MinIO, Redis) on test ports, and one SparkSession.

The stack keeps its state in pytest's temporary folder and listens on ports of its own, so
`make test` neither needs nor disturbs a stack a developer already has running (nor another test
run); it is stopped when the session ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.process import free_port


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """WATERSHED_* variables pointing every component at the test stack."""
    return {
        "WATERSHED_ENV": "local",
        "WATERSHED_STATE_DIR": str(tmp_path_factory.mktemp("stack")),
        "WATERSHED_KAFKA_PORT": str(free_port(19092)),
        "WATERSHED_KAFKA_CONTROLLER_PORT": str(free_port(19093)),
        "WATERSHED_S3_PORT": str(free_port(19000)),
        "WATERSHED_REDIS_PORT": str(free_port(16379)),
    }


@pytest.fixture(scope="session")
def stack_settings(stack_env: dict[str, str]) -> Iterator[Settings]:
    """A running local stack (real Kafka broker, MinIO, redis-server) for the whole test session;
    a missing piece (e.g. redis-server not installed) fails the tests that need it, naming it."""
    saved = {k: os.environ.get(k) for k in stack_env}
    os.environ.update(stack_env)
    settings = Settings()
    stack = Stack(settings)
    try:
        stack.up(echo=lambda _: None)
        yield settings
    finally:
        stack.down(echo=lambda _: None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def kafka_bootstrap(stack_settings: Settings) -> str:
    return stack_settings.kafka_bootstrap


@pytest.fixture(scope="session")
def spark(stack_settings: Settings):  # type: ignore[no-untyped-def]
    """One local SparkSession (Kafka connector and S3A on the classpath) for the session."""
    from spark_jobs.session import spark_session

    session = spark_session(stack_settings, app_name="watershed-tests", **{"spark.driver.memory": "2g"})
    yield session
    session.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tests that need the stack get the marker, so `-m "not stack"` runs the fast ones alone
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"stack_settings", "kafka_bootstrap", "spark"}:
            item.add_marker(pytest.mark.stack)
