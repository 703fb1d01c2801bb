"""Fixtures: the collector served by uvicorn on a free port, writing to the test stack's real
Kafka broker, and a reader that consumes back what a test produced."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from collectors.app import create_app, kafka_sink
from collectors.settings import CollectorSettings
from watershed.pii import Pseudonymiser
from watershed.stack.process import free_port

# Write keys of the tests, one per source.
KEYS = {
    "web_analytics": "test-web-analytics-key-0001",
    "user_events": "test-user-events-key-0002",
    "transaction_data": "test-transaction-key-0003",
    "ad_platform": "test-ad-platform-key-0004",
}
PII_KEY = b"collector-tests-pii-key-0123456789"
PII_KEY_ID = "t1"
TOPICS = ("user-events", "transaction-data", "ad-events", "events-invalid")


def keyed(field: str, normalised: str) -> str:
    """The stored pseudonym of a personal value, computed here with hmac directly."""
    return f"{PII_KEY_ID}:" + hmac.new(PII_KEY, f"{field}\x1f{normalised}".encode(), hashlib.sha256).hexdigest()


def bearer(source: str = "web_analytics") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[source]}", "Content-Type": "application/json"}


def recent(minutes: int = 1) -> str:
    """An occurred_at the contract accepts: a little before now."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def page_view(visitor: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "schema_version": 1,
        "source": "web_analytics",
        "anonymous_id": visitor,
        "occurred_at": recent(),
        "page_url": "https://shop.example.com/",
        **fields,
    }


class ServerThread:
    """A uvicorn server in a background thread (its own event loop), stopped on exit."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the collector did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def settings(**overrides: Any) -> CollectorSettings:
    return CollectorSettings(write_keys=KEYS, **overrides)


@contextmanager
def serve(bootstrap: str, **overrides: Any) -> Iterator[httpx.Client]:
    """A collector writing to `bootstrap`, and an HTTP client pointed at it."""
    config = settings(**overrides)
    app = create_app(config, kafka_sink(bootstrap, config), Pseudonymiser(PII_KEY, PII_KEY_ID))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def collector(kafka_bootstrap: str) -> Iterator[httpx.Client]:
    """The collector of the session, on the test stack's broker. Kafka gets 30 s to acknowledge
    (5 s by default): on a machine busy with other work a starved broker must not turn into a
    503 that these tests would read as a failure; the outage test checks 503s on its own."""
    with serve(kafka_bootstrap, kafka_timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class Reader:
    """Reads what was written to the collector's topics after a mark (the end offsets when it
    was created), in offset order per partition."""

    def __init__(self, bootstrap: str, topics: tuple[str, ...] = TOPICS) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"collector-tests-{uuid.uuid4()}", "enable.auto.commit": False}
        )
        metadata = self.consumer.list_topics(timeout=10)
        self.start = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                tp = TopicPartition(topic, partition)
                self.start[(topic, partition)] = self.consumer.get_watermark_offsets(tp, timeout=10)[1]

    def read(self) -> list[Consumed]:
        """Everything written since the mark (up to the current end offsets)."""
        from confluent_kafka import TopicPartition

        ends = {tp: self.consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10)[1] for tp in self.start}
        wanted = [TopicPartition(t, p, self.start[(t, p)]) for (t, p), end in ends.items() if end > self.start[(t, p)]]
        if not wanted:
            return []
        self.consumer.assign(wanted)
        remaining = {(tp.topic, tp.partition): ends[(tp.topic, tp.partition)] for tp in wanted}
        out: list[Consumed] = []
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            message = self.consumer.poll(1.0)
            if message is None or message.error():
                continue
            where = (message.topic(), message.partition())
            out.append(
                Consumed(
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    message.key(),
                    message.value(),
                    dict(message.headers() or []),
                )
            )
            if message.offset() + 1 >= remaining.get(where, 0):
                remaining.pop(where, None)
        self.consumer.unassign()
        return sorted(out, key=lambda c: (c.topic, c.partition, c.offset))

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def reader(kafka_bootstrap: str) -> Iterator[Reader]:
    r = Reader(kafka_bootstrap)
    yield r
    r.close()
