"""Prometheus metrics of the collector (served at ``/metrics``).

* ``watershed_collector_requests_total{path,status}`` and the histogram
  ``watershed_collector_request_duration_seconds{path}``: every HTTP answer;
* ``watershed_collector_events_rejected_total{reason}``: every rejection by reason, one per
  rejected request (its error code: unauthorized, forbidden, rate_limited, ...) and one per
  invalid event of an accepted batch (invalid_event);
* ``watershed_collector_events_accepted_total{topic}``: events acknowledged by Kafka;
* ``watershed_collector_dead_letters_total``: rejected events written to events-invalid;
* ``watershed_collector_kafka_ready``: 1 when the last readiness check found Kafka and topics.

With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set, as ``watershed collector serve
--workers N`` does) every process writes its values to that folder and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REJECTION_REASONS = (
    "unauthorized",
    "forbidden",
    "rate_limited",
    "payload_too_large",
    "unsupported_media_type",
    "malformed_json",
    "malformed_request",
    "invalid_batch",
    "invalid_event",
    "kafka_unavailable",
    "not_found",
    "method_not_allowed",
)
PATHS = ("/v1/events", "/v1/batch", "/health", "/ready", "/metrics", "/docs", "/openapi.json")
_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        r = self.registry
        self.requests = Counter(
            "watershed_collector_requests", "HTTP answers by path and status.", ["path", "status"], registry=r
        )
        self.duration = Histogram(
            "watershed_collector_request_duration_seconds",
            "Time from request to answer.",
            ["path"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.rejected = Counter("watershed_collector_events_rejected", "Rejections by reason.", ["reason"], registry=r)
        self.accepted = Counter(
            "watershed_collector_events_accepted", "Events acknowledged by Kafka, by topic.", ["topic"], registry=r
        )
        self.dead_letters = Counter(
            "watershed_collector_dead_letters", "Rejected events written to events-invalid.", registry=r
        )
        self.kafka_ready = Gauge(
            "watershed_collector_kafka_ready",
            "1 when the last readiness check reached Kafka and found the topics.",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._rejected = {reason: self.rejected.labels(reason) for reason in REJECTION_REASONS}
        self._requests: dict[tuple[str, int], Any] = {}
        self._durations = {path: self.duration.labels(path) for path in (*PATHS, "other")}
        self._accepted: dict[str, Any] = {}

    def reject(self, reason: str, count: int = 1) -> None:
        child = self._rejected.get(reason)
        if child is None:
            child = self._rejected[reason] = self.rejected.labels(reason)
        child.inc(count)

    def accept(self, topic: str, count: int = 1) -> None:
        child = self._accepted.get(topic)
        if child is None:
            child = self._accepted[topic] = self.accepted.labels(topic)
        child.inc(count)

    def observe(self, path: str, status: int, seconds: float) -> None:
        if path not in self._durations:
            path = "other"
        child = self._requests.get((path, status))
        if child is None:
            child = self._requests[(path, status)] = self.requests.labels(path, str(status))
        child.inc()
        self._durations[path].observe(seconds)

    def render(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class MetricsMiddleware:
    """Counts and times every HTTP answer (plain ASGI: no per-request task or body copy)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)
