"""The network sinks deliver every event: HTTP batches per write key with retries on 429/503,
Kafka to the family topics with the user key."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import numpy as np
import pytest

from simulator import FaultRates, GeneratorConfig, GeneratorError, HttpSink, KafkaSink, simulate
from simulator.http_sink import retry_after
from simulator.wire import payloads
from watershed.contract import EVENT_TYPES, topic_for

KEYS = {"web_analytics": "wk-web", "user_events": "wk-user", "transaction_data": "wk-tx", "ad_platform": "wk-ads"}
SOURCE_OF_KEY = {v: k for k, v in KEYS.items()}


@pytest.fixture(scope="module")
def simulation() -> Any:
    return simulate(GeneratorConfig(seed=3, days=2, events=3_000, faults=FaultRates(duplicate=0.02, malformed=0.02)))


class FakeCollector:
    """Answers like the collector's /v1/batch: a 429 (or 503) before every third batch, then 200."""

    def __init__(self) -> None:
        self.calls = 0
        self.received: list[dict[str, Any]] = []
        self.sources: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path == "/v1/batch"
        if self.calls % 3 == 1:
            return httpx.Response(429 if self.calls % 2 else 503, headers={"Retry-After": "0"})
        source = SOURCE_OF_KEY[request.headers["Authorization"].removeprefix("Bearer ")]
        events = json.loads(request.content)["events"]
        assert 1 <= len(events) <= 500
        self.sources[source] += len(events)
        self.received += events
        return httpx.Response(200, json={"accepted": len(events), "rejected": 0, "errors": []})


def test_http_sink_delivers_everything_once_despite_backpressure(simulation: Any) -> None:
    collector = FakeCollector()
    progress: list[int] = []
    sink = HttpSink("http://collector.test", KEYS, concurrency=3, transport=httpx.MockTransport(collector),
                    progress=lambda sent, total: progress.append(sent))  # fmt: skip
    result = sink.send(simulation.events)

    rows = simulation.events.rows
    assert result["accepted"] == rows and result["rejected"] == 0
    assert result["retries"] == collector.calls - result["batches"] > 0
    assert sum(progress) == rows == len(collector.received)
    sent_ids = Counter(e.get("event_id") for e in collector.received)
    expected_ids = Counter(p.get("event_id") for p in payloads(simulation.events.table(), received_at=False))
    assert sent_ids == expected_ids  # duplicates are sent twice, as a retrying client would
    assert all("received_at" not in e for e in collector.received)
    assert sum(collector.sources.values()) == rows and set(collector.sources) == set(KEYS)


def test_http_sink_reports_collector_errors(simulation: Any) -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        errors = [{"index": 0, "errors": [{"field": "occurred_at", "message": "too old"}]}]
        return httpx.Response(200, json={"accepted": len(events) - 1, "rejected": 1, "errors": errors})

    sink = HttpSink("http://collector.test", KEYS, transport=httpx.MockTransport(reject))
    result = sink.send(simulation.events.head(600))
    assert result["rejected"] == result["batches"] and result["accepted"] == 600 - result["batches"]
    assert result["first_errors"][0] == {"position": 0, "errors": [{"field": "occurred_at", "message": "too old"}]}


def test_http_sink_stops_on_a_refused_key(simulation: Any) -> None:
    sink = HttpSink("http://collector.test", KEYS,
                    transport=httpx.MockTransport(lambda r: httpx.Response(401, text="unknown write key")))  # fmt: skip
    with pytest.raises(GeneratorError, match=r"collector answered 401 .*unknown write key"):
        sink.send(simulation.events)


def test_http_sink_needs_a_key_per_source(simulation: Any) -> None:
    sink = HttpSink("http://collector.test", {"web_analytics": "k"})
    with pytest.raises(GeneratorError, match="WATERSHED_WRITE_KEY_AD_PLATFORM"):
        sink.send(simulation.events)


def test_http_sink_gives_up_after_its_retries(simulation: Any) -> None:
    busy = httpx.MockTransport(lambda r: httpx.Response(503, headers={"Retry-After": "0"}))
    sink = HttpSink("http://collector.test", KEYS, max_retries=2, transport=busy)
    with pytest.raises(GeneratorError, match=r"gave up .* after 2 retries"):
        sink.send(simulation.events.head(10))


def test_retry_after_header() -> None:
    assert retry_after("3", default=1.0) == 3.0
    assert retry_after(None, default=1.5) == 1.5
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", default=1.0) == 0.0
    assert retry_after("soon", default=2.0) == 2.0


@pytest.mark.stack
def test_kafka_sink_writes_each_family_topic(simulation: Any, kafka_bootstrap: str) -> None:
    from confluent_kafka import Consumer, TopicPartition

    expected = Counter(topic_for(EVENT_TYPES[c]) for c in simulation.events.event_types.tolist())
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "generator-test",
                         "enable.auto.commit": False})  # fmt: skip

    def high_watermarks() -> dict[str, int]:
        marks = {}
        for topic in expected:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            marks[topic] = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                               for p in partitions)  # fmt: skip
        return marks

    before = high_watermarks()
    result = KafkaSink(kafka_bootstrap).send(simulation.events)
    after = high_watermarks()
    assert result["topics"] == dict(sorted(expected.items()))
    assert {t: after[t] - before[t] for t in expected} == dict(expected)

    consumer.assign([TopicPartition("transaction-data", p, before_offset) for p, before_offset in
                     _offsets(consumer, "transaction-data")])  # fmt: skip
    message = consumer.poll(10)
    assert message is not None and message.error() is None
    payload = json.loads(message.value())
    assert message.key().decode() == (payload.get("user_id") or payload.get("anonymous_id"))
    assert "received_at" in payload
    consumer.close()


def _offsets(consumer: Any, topic: str) -> list[tuple[int, int]]:
    """(partition, low watermark) of every partition: read from the start of what is kept."""
    from confluent_kafka import TopicPartition

    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return [(p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]) for p in partitions]


def test_intended_types_route_broken_rows(simulation: Any) -> None:
    """Rows whose event_type was removed still have a topic and a write key."""
    broken = np.flatnonzero(np.array([t is None for t in simulation.events.table()["event_type"].to_pylist()]))
    assert len(broken) > 0
    assert all(0 <= simulation.events.event_types[i] < len(EVENT_TYPES) for i in broken)
