"""Kafka stops under traffic, live: the collector answers 503, Prometheus scrapes its readiness
gauge at 0 and, after the rule's minute, CollectorKafkaUnavailable fires. Exactly one page reaches
the PagerDuty receiver and one message the Slack receiver; a quality checkpoint that fails during
the outage (a symptom) is inhibited and never notified. Kafka restarts: both resolve notifications
arrive. Real servers: the broker, Prometheus, Alertmanager and the Pushgateway of `watershed stack
up kafka prometheus`, the collector in this process, the receivers at the wire."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quality.metrics import push
from simulator.fakes.alert_receivers import AlertReceivers
from tests.collector.conftest import bearer, page_view, serve
from tests.monitoring.test_alert_path import monitoring_env, outcome, wait_for
from watershed.stack.process import free_port

pytestmark = pytest.mark.stack

WATERSHED = str(Path(sys.executable).parent / "watershed")
ROUTING_KEY = "b" * 32


def stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATERSHED, "stack", *args], env=env, capture_output=True, text=True, timeout=180)


class Traffic(threading.Thread):
    """Page views, one request after the other, until stopped; the answers' status codes."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__(daemon=True)
        self.client, self.statuses, self.stop = client, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            answer = self.client.post("/v1/events", json=page_view("outage-alerts"), headers=bearer())
            self.statuses.append(answer.status_code)
            time.sleep(0.2)


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[dict[str, str], AlertReceivers, httpx.Client]]:
    receivers = AlertReceivers()
    env = monitoring_env(
        tmp_path / "state", receivers, ROUTING_KEY,
        KAFKA_PORT=str(free_port()), KAFKA_CONTROLLER_PORT=str(free_port()), KAFKA_METRICS_PORT=str(free_port()),
        # a scrape's timeout is its interval: 2 s leaves room for the collector's readiness check
        # (0.5 s here) when the broker does not answer
        MONITORING_SCRAPE_INTERVAL="2s", ALERT_GROUP_WAIT="1s",
    )  # fmt: skip
    bootstrap = f"127.0.0.1:{env['WATERSHED_KAFKA_PORT']}"
    # the collector first (its producer waits for the broker), so Prometheus is told its port
    with serve(
        bootstrap, kafka_timeout=2, unavailable_retry_after=1, ready_cache_seconds=0, ready_timeout=0.5
    ) as client:
        env["WATERSHED_MONITORING_COLLECTOR_TARGETS"] = f'["{client.base_url.host}:{client.base_url.port}"]'
        try:
            up = stack(env, "up", "kafka", "prometheus")
            assert up.returncode == 0, up.stdout + up.stderr
            yield env, receivers, client
        finally:
            stack(env, "down")
            receivers.stop()


def test_kafka_down_pages_once_mutes_its_symptoms_and_resolves_when_back(outage) -> None:  # type: ignore[no-untyped-def]
    env, receivers, client = outage
    prometheus = f"http://127.0.0.1:{env['WATERSHED_PROMETHEUS_PORT']}"
    alertmanager = f"http://127.0.0.1:{env['WATERSHED_ALERTMANAGER_PORT']}"
    gateway = f"http://127.0.0.1:{env['WATERSHED_PUSHGATEWAY_PORT']}"

    def series(query: str) -> list[dict[str, Any]]:
        return httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()["data"]["result"]

    def firing(name: str) -> list[dict[str, Any]]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing" and a["labels"]["alertname"] == name]

    traffic = Traffic(client)
    traffic.start()
    try:
        wait_for("the collector scraped ready", lambda: series("watershed_collector_kafka_ready == 1"))
        assert stack(env, "down", "kafka").returncode == 0
        wait_for("the collector scraped not ready", lambda: series("watershed_collector_kafka_ready == 0"), 60)
        wait_for("CollectorKafkaUnavailable firing", lambda: firing("CollectorKafkaUnavailable"), 120)
        paged = wait_for("the page", lambda: (r := receivers.snapshot()) and r["pagerduty"] and r, 60)

        # a symptom during the outage: it fires in Prometheus, Alertmanager holds it inhibited
        assert push(outcome("marts", "marts.daily_revenue", ["volume_day_over_day"], ["has_rows"]), gateway)
        wait_for("the quality alert firing", lambda: firing("QualityCheckpointFailed"))

        def inhibited() -> list[dict[str, Any]]:
            alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
            return [a for a in alerts if a["labels"]["alertname"] == "QualityCheckpointFailed"
                    and a["status"]["inhibitedBy"]]  # fmt: skip

        wait_for("Alertmanager holding the quality alert inhibited", inhibited, 30)
        time.sleep(5)  # two group intervals more: nothing else is sent
        during = receivers.snapshot()
        # the symptom is fixed before Kafka returns (a passing rerun): it is never notified
        assert push(outcome("marts", "marts.daily_revenue", [], ["volume_day_over_day", "has_rows"]), gateway)
        wait_for("the quality alert gone", lambda: not firing("QualityCheckpointFailed"))

        assert stack(env, "up", "kafka").returncode == 0
        wait_for("the page resolved", lambda: len(receivers.snapshot()["pagerduty"]) >= 2, 120)
        wait_for(
            "the Slack message resolved",
            lambda: any(m["attachments"][0]["title"].startswith("[RESOLVED]") for m in receivers.snapshot()["slack"]),
            60,
        )
        time.sleep(5)
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)

    assert 503 in traffic.statuses and traffic.statuses[-1] == 200  # the outage was seen, and it ended
    assert [m["attachments"][0]["title"] for m in during["slack"]] == [
        "[FIRING:1] CollectorKafkaUnavailable (critical)"
    ]
    assert [p["event_action"] for p in during["pagerduty"]] == ["trigger"]
    assert paged["pagerduty"][0]["payload"]["summary"].startswith(
        "CollectorKafkaUnavailable: the collector cannot reach Kafka"
    )
    after = receivers.snapshot()
    assert [m["attachments"][0]["title"] for m in after["slack"]] == [
        "[FIRING:1] CollectorKafkaUnavailable (critical)",
        "[RESOLVED] CollectorKafkaUnavailable (critical)",
    ]  # never QualityCheckpointFailed
    assert [(p["event_action"], p["dedup_key"]) for p in after["pagerduty"]] == [
        ("trigger", paged["pagerduty"][0]["dedup_key"]),
        ("resolve", paged["pagerduty"][0]["dedup_key"]),
    ]
