"""The HTTP layer with a memory sink swapped in through the dependency (no Kafka needed):
answers when the sink fails or is not ready, liveness, docs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from collectors.app import create_app
from collectors.auth import TokenBucket
from collectors.deps import Client, authenticate, get_settings, get_sink
from collectors.sink import MemorySink, SinkUnavailable
from tests.collector.conftest import PII_KEY, PII_KEY_ID, bearer, page_view, settings
from watershed.contract import Source
from watershed.pii import Pseudonymiser


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(sink: MemorySink) -> Iterator[TestClient]:
    app = create_app(settings(unavailable_retry_after=7), sink, Pseudonymiser(PII_KEY, PII_KEY_ID))
    with TestClient(app) as test_client:
        yield test_client


def test_a_sink_failure_is_503_with_retry_after_and_counted(client: TestClient, sink: MemorySink) -> None:
    sink.fail = SinkUnavailable("Kafka did not acknowledge the events within 5 s")
    answer = client.post("/v1/events", json=page_view("m"), headers=bearer())
    assert (answer.status_code, answer.headers["retry-after"], answer.json()) == (
        503,
        "7",
        {
            "error": "kafka_unavailable",
            "message": "Kafka did not acknowledge the events within 5 s; nothing was accepted, retry after 7 s",
        },
    )
    batch = client.post("/v1/batch", json={"events": [page_view("m")]}, headers=bearer())
    assert batch.status_code == 503
    assert 'watershed_collector_events_rejected_total{reason="kafka_unavailable"} 2.0' in client.get("/metrics").text


def test_the_sink_is_a_dependency_tests_can_swap(client: TestClient, sink: MemorySink) -> None:
    other = MemorySink()
    client.app.dependency_overrides[get_sink] = lambda: other  # type: ignore[attr-defined]
    assert client.post("/v1/events", json=page_view("m"), headers=bearer()).status_code == 200
    assert (len(other.records), len(sink.records)) == (1, 0)


def test_authentication_is_a_dependency_tests_can_swap(client: TestClient, sink: MemorySink) -> None:
    swapped = Client(Source.WEB_ANALYTICS, TokenBucket(0, 0))
    client.app.dependency_overrides[authenticate] = lambda: swapped  # type: ignore[attr-defined]
    answer = client.post("/v1/events", json=page_view("m"), headers={"Content-Type": "application/json"})
    assert (answer.status_code, len(sink.records), sink.records[0].topic) == (200, 1, "user-events")


def test_settings_are_a_dependency_tests_can_swap(client: TestClient, sink: MemorySink) -> None:
    client.app.dependency_overrides[get_settings] = lambda: settings(max_event_bytes=1024)  # type: ignore[attr-defined]
    event = page_view("m", page_url="https://shop.example.com/" + "p" * 1024)
    answer = client.post("/v1/events", json=event, headers=bearer())
    assert (answer.status_code, answer.json()["error"], sink.records) == (413, "payload_too_large", [])


def test_ready_reflects_the_sink_and_health_does_not(client: TestClient, sink: MemorySink) -> None:
    assert client.get("/ready").json() == {"ready": True, "detail": "ok"}
    sink.healthy = False
    ready = client.get("/ready")
    assert (ready.status_code, ready.json()) == (503, {"ready": False, "detail": "memory sink marked unhealthy"})
    assert "watershed_collector_kafka_ready 0.0" in client.get("/metrics").text
    sink.healthy = True  # a scrape alone refreshes the gauge, without a call of /ready
    assert "watershed_collector_kafka_ready 1.0" in client.get("/metrics").text
    sink.healthy = False
    assert "watershed_collector_kafka_ready 0.0" in client.get("/metrics").text
    health = client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "version": "0.1.0"})


def test_docs_and_schema_describe_both_ways_to_send_a_key(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "writeKeyBearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <write key>"},
        "writeKeyBasic": {"type": "http", "scheme": "basic", "description": "The write key as user name."},
    }
    assert schema["components"]["schemas"]["Batch"]["properties"]["events"]["maxItems"] == 500
    assert sorted(schema["paths"]["/v1/batch"]["post"]["responses"]) == [
        "200", "400", "401", "403", "413", "415", "422", "429", "503",
    ]  # fmt: skip
