"""Helpers for the streaming tests: isolated topics on the test broker (and ad counter keys in the
test Redis), events built from the contract's shapes, and reading a topic back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator.wire import dumps
from spark_jobs.streaming.config import ALERTS_TOPIC, METRICS_TOPIC, SOURCE_TOPICS, StreamConfig
from watershed.contract import topic_for
from watershed.settings import Settings

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(event_type: str, at: datetime, user: str, **fields: Any) -> dict[str, Any]:
    """A contract-valid event payload of `event_type` (the fields its model requires)."""
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "user_id": user,
        "occurred_at": iso(at),
        "received_at": iso(at + timedelta(seconds=1)),
    }
    if event_type == "page_view":
        base |= {"source": "web_analytics", "page_url": "https://shop.example/p"}
    elif event_type == "purchase":
        base |= {
            "source": "transaction_data",
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "revenue": "50.00",
            "currency": "USD",
            "items": [{"product_id": "sku1", "quantity": 1, "price": "50.00"}],
        }
    elif event_type in ("impression", "click", "conversion"):
        base |= {"source": "ad_platform", "campaign_id": "c1", "platform": "google_ads", "ad_id": "a1"}
        if event_type == "conversion":
            base |= {"value": "20.00", "currency": "USD"}
        else:
            base |= {"cost": "0.010000", "currency": "USD"}
    return base | fields


class Topics:
    """A private set of the job's topics (prefix) on the shared test broker."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        from confluent_kafka.admin import AdminClient, NewTopic

        names = {prefix + t: 2 for t in SOURCE_TOPICS} | {prefix + METRICS_TOPIC: 1, prefix + ALERTS_TOPIC: 1}
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the topics exist
        futures = admin.create_topics([NewTopic(n, num_partitions=p, replication_factor=1) for n, p in names.items()])
        for future in futures.values():
            future.result(timeout=30)

    def send(self, events: list[dict[str, Any]]) -> None:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "enable.idempotence": True})
        for e in events:
            key = (e.get("user_id") or e.get("anonymous_id") or "").encode()
            producer.produce(self.prefix + topic_for(e["event_type"]), key=key, value=dumps(e))
        assert producer.flush(30) == 0

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record of one of the job's (single-partition) output topics, in offset order."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": uuid.uuid4().hex})
        partition = TopicPartition(self.prefix + topic, 0)
        _low, high = consumer.get_watermark_offsets(partition, timeout=10)
        consumer.assign([TopicPartition(self.prefix + topic, 0, OFFSET_BEGINNING)])
        out: list[dict[str, Any]] = []
        while high > 0:
            message = consumer.poll(5.0)
            assert message is not None, f"{topic}: only {len(out)} of {high} records came back"
            if message.error():
                continue
            out.append(json.loads(message.value()))
            if message.offset() >= high - 1:
                break
        consumer.close()
        return out

    def config(self, home: Path, **options: Any) -> StreamConfig:
        return StreamConfig(
            home=home,
            metrics_table=(home / "realtime_metrics").as_uri(),
            source_topics=tuple(self.prefix + t for t in SOURCE_TOPICS),
            metrics_topic=self.prefix + METRICS_TOPIC,
            alerts_topic=self.prefix + ALERTS_TOPIC,
            counters_key=f"watershed:{self.prefix}ad_counters",  # as `stream run --topic-prefix`
            **options,
        )


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[Topics]:
    yield Topics(kafka_bootstrap, f"t{uuid.uuid4().hex[:8]}-")


@pytest.fixture
def redis_client(stack_settings: Settings) -> Iterator[Any]:
    """A client of the test stack's Redis (the real redis-server the session started)."""
    from spark_jobs.streaming import counters

    client = counters.connect(stack_settings)
    yield client
    client.close()


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    return event


def run_available_now(spark, settings: Settings, config: StreamConfig) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from spark_jobs.streaming import job

    # one shuffle partition per stateful operator: the test data is tiny, task overhead is not
    # (fixed in the checkpoint at its first batch; the shared session's setting is restored)
    saved = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "1")
    try:
        return job.run(settings, config.with_(available_now=True), spark=spark, poll=0.2)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", saved)
