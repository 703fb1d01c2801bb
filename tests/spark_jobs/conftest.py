"""Builders of small inline frames for the lake tests (bronze rows with sensible defaults)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spark_jobs.common.bronze import bronze_schema

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
INGESTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(**delta: float) -> datetime:
    """T0 plus a delta: at(minutes=30, microseconds=1)."""
    return T0 + timedelta(**delta)


@pytest.fixture(scope="session")
def bronze(spark) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """bronze(dict, ...) -> a bronze DataFrame; each dict overrides the defaults of a valid
    page_view of user u1 (received 1 s after it occurred, landed in its hour partition)."""
    offsets = itertools.count()
    schema = bronze_schema()

    def make(*rows: dict[str, Any]):  # type: ignore[no-untyped-def]
        full = []
        for given in rows:
            occurred = given.get("occurred_at", T0)
            received = given.get("received_at", occurred + timedelta(seconds=1) if occurred else T0)
            placed = occurred or received
            row: dict[str, Any] = {
                "event_type": "page_view",
                "schema_version": 1,
                "source": "web_analytics",
                "user_id": "u1",
                "occurred_at": occurred,
                "received_at": received,
                "page_url": "https://shop.example/",
                "kafka_topic": "user-events",
                "kafka_partition": 0,
                "kafka_offset": next(offsets),
                "kafka_timestamp": received,
                "kafka_value": "{}",
                "ingested_at": INGESTED,
                "is_late": False,
                "dt": placed.date() if placed else None,
                "hour": placed.hour if placed else None,
            }
            row.update(given)
            full.append(tuple(row.get(f.name) for f in schema.fields))
        return spark.createDataFrame(full, schema)

    return make


# Tiny inline frames: one shuffle partition and no adaptive re-planning make each query a few
# tasks instead of dozens. Runtime settings of the shared session, restored after each module.
_SMALL_DATA_CONF = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false"}


@pytest.fixture(autouse=True, scope="module")
def small_data_conf(spark):  # type: ignore[no-untyped-def]
    saved = {key: spark.conf.get(key) for key in _SMALL_DATA_CONF}
    for key, value in _SMALL_DATA_CONF.items():
        spark.conf.set(key, value)
    yield
    for key, value in saved.items():
        spark.conf.set(key, value)


class KafkaIO:
    """Produce records and read the topics' end offsets on the test broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def end_offsets(self, topics: tuple[str, ...]) -> str:
        """Kafka's startingOffsets JSON of the current end of `topics`: a landing query started
        from it sees only what this test produces next (the broker is shared by the session)."""
        import json

        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            ends = consumer.end_offsets(parts)
        finally:
            consumer.close()
        offsets: dict[str, dict[str, int]] = {}
        for part, offset in ends.items():
            offsets.setdefault(part.topic, {})[str(part.partition)] = offset
        return json.dumps(offsets, sort_keys=True)

    def produce(self, records: list[tuple[str, str | None, bytes]]) -> list[tuple[str, int, int]]:
        """Send (topic, key, value) records with acks=all; return their (topic, partition, offset)."""
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        try:
            futures = [producer.send(t, key=k.encode() if k else None, value=v) for t, k, v in records]
            producer.flush()
            acked = [f.get(timeout=60) for f in futures]
        finally:
            producer.close()
        return [(m.topic, m.partition, m.offset) for m in acked]


@pytest.fixture(scope="session")
def kafka_io(kafka_bootstrap: str) -> KafkaIO:
    return KafkaIO(kafka_bootstrap)


@pytest.fixture
def lake_settings(stack_settings, tmp_path):  # type: ignore[no-untyped-def]
    """The test stack's settings with a lake of this test's own (a local folder)."""
    return stack_settings.model_copy(update={"lake_uri": str(tmp_path / "lake")})
