"""With the real broker: an injected traffic spike and an injected revenue drop each raise exactly
one alert (Kafka `alerts` topic and both webhooks); duplicates are dropped, late events counted."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from tests.streaming.conftest import T0, event, run_available_now


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def window(minute: int, events: int, purchases: int, tag: str) -> list[dict[str, Any]]:
    """`events` events in the 1-minute window starting T0+minute, `purchases` of them purchases
    of 50.00 each, spread over 8 users."""
    start = T0 + timedelta(minutes=minute)
    out = []
    for i in range(events):
        kind = "purchase" if i < purchases else "page_view"
        out.append(event(kind, start + timedelta(seconds=1 + i * 50 / events), f"{tag}-u{i % 8}"))
    return out


def test_spike_and_revenue_drop_raise_one_alert_each(spark, stack_settings, topics, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"

    steady = window(0, 10, 3, "a") + window(1, 10, 3, "b")  # 10 events, 150.00 revenue each
    spike = window(2, 40, 3, "c")  # 4x the events, same revenue: a spike only
    drop = window(3, 13, 1, "d")  # 13 events (no spike), 50.00 < 0.5 x 150.00: a drop only
    duplicate = dict(steady[3])  # a retried event: same id, must not count twice
    flush = [event("page_view", T0 + timedelta(minutes=10), "flush")]  # moves the watermark past minute 4
    topics.send(steady + spike + drop + [duplicate])
    config = topics.config(
        tmp_path,
        window="1 minute",
        watermark="10 seconds",
        slack_url=f"{url}/slack",
        pagerduty_url=f"{url}/pagerduty",
        pagerduty_routing_key="test-routing-key",
    )
    run_available_now(spark, stack_settings, config)
    topics.send(flush)
    run_available_now(spark, stack_settings, config)
    late = [event("page_view", T0 + timedelta(minutes=1, seconds=30), "late")]  # behind the watermark
    topics.send(late)
    heartbeat = run_available_now(spark, stack_settings, config)
    server.shutdown()

    metrics = {m["window_start"]: m for m in topics.read("real-time-metrics")}
    assert [(m["total_events"], m["revenue"]) for _, m in sorted(metrics.items())] == [
        (10, "150.00"),
        (10, "150.00"),
        (40, "150.00"),
        (13, "50.00"),
    ]
    alerts = topics.read("alerts")
    assert [(a["rule"], a["window_start"]) for a in alerts] == [
        ("traffic_spike", "2026-11-20T09:02:00Z"),
        ("revenue_drop", "2026-11-20T09:03:00Z"),
    ]
    assert alerts[0]["ratio"] == 4.0
    assert abs(alerts[1]["ratio"] - 1 / 3) < 1e-9
    hooks = sorted((path, body.get("dedup_key") or body["text"][:40]) for path, body in _Hook.received)
    assert [p for p, _ in hooks] == ["/pagerduty", "/pagerduty", "/slack", "/slack"]
    assert {k for p, k in hooks if p == "/pagerduty"} == {
        "watershed:traffic_spike:2026-11-20T09:02:00Z",
        "watershed:revenue_drop:2026-11-20T09:03:00Z",
    }
    assert heartbeat["queries"]["metrics"]["dropped_by_watermark_total"] == 1
