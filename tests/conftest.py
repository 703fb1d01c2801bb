"""Shared fixtures: a real local stack (Kafka, MinIO, Redis) on test ports, one SparkSession, and
the lanes.

The stack keeps its state in pytest's temporary folder and listens on ports of its own, so
`make test` neither needs nor disturbs a stack a developer already has running (nor another test
run); it is stopped when the session ends. The SparkSession needs no running service: it is
configured with the test stack's ports, and only a test that also asks for the stack reads Kafka
or S3 through it.

Every test lands in one lane, marked here so nobody has to remember: ``e2e`` (the Airflow UI, the
demo day, the installed package: the slowest, run last), ``stack`` (asks for the running stack,
directly or through a fixture), ``unit`` (everything else: pure Python, DataFrames, SQL on DuckDB,
dbt, DAG integrity). ``make test-unit`` runs without Kafka, MinIO or Redis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

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
        "WATERSHED_KAFKA_METRICS_PORT": str(free_port(19404)),
        "WATERSHED_S3_PORT": str(free_port(19000)),
        "WATERSHED_REDIS_PORT": str(free_port(16379)),
        "WATERSHED_POSTGRES_PORT": str(free_port(15433)),
        "WATERSHED_PROMETHEUS_PORT": str(free_port(19190)),
        "WATERSHED_PUSHGATEWAY_PORT": str(free_port(19191)),
        "WATERSHED_ALERTMANAGER_PORT": str(free_port(19195)),
        "WATERSHED_EXPORTER_PORT": str(free_port(19108)),
        "WATERSHED_REALTIME_UI_PORT": str(free_port(14041)),
        "WATERSHED_STATSD_PORT": str(free_port(19125)),
        "WATERSHED_STATSD_EXPORTER_PORT": str(free_port(19102)),
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
def spark(stack_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """One local SparkSession (Kafka connector and S3A on the classpath, pointed at the test
    stack's ports) for the session. Building it starts no service; a test that reads Kafka or S3
    asks for `stack_settings` (or `kafka_bootstrap`) as well."""
    from spark_jobs.session import spark_session

    settings = Settings(**{k.removeprefix("WATERSHED_").lower(): v for k, v in stack_env.items()})
    session = spark_session(settings, app_name="watershed-tests", **{"spark.driver.memory": "2g"})
    yield session
    session.stop()


def prod_on_fake_snowflake(state_dir: Path, port: int) -> Settings:
    """Production settings (Snowflake is the warehouse) whose Snowflake is the local wire fake
    (simulator/fakes/snowflake.py) on `port`; nothing else of prod is reached."""
    return Settings(
        env="prod", state_dir=state_dir, lake_uri="s3a://acme-lake/watershed",
        kafka_bootstrap_servers="127.0.0.1:1", spark_master="spark://127.0.0.1:7077",
        pii_hash_key=SecretStr("k" * 32), snowflake_account="acme-eu1", snowflake_user="monitor",
        snowflake_password=SecretStr("fake-snowflake-password"), snowflake_host="127.0.0.1",
        snowflake_port=port, snowflake_protocol="http",
    )  # fmt: skip


# the lanes, slowest last; a test is in exactly one
E2E_PATHS = ("airflow_ui", "e2e", "test_demo_day.py")
STACK_FIXTURES = frozenset({"stack_settings", "kafka_bootstrap"})


def lane(item: pytest.Item) -> str:
    parts = item.path.relative_to(item.config.rootpath / "tests").parts
    if parts[0] in E2E_PATHS or item.get_closest_marker("e2e"):
        return "e2e"
    if STACK_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("stack"):
        return "stack"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, lane(item)))
