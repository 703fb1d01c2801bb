"""The one alert path, live: a checkpoint's metrics pushed to the stack's Pushgateway, scraped by its
Prometheus, the rule fires, Alertmanager routes it to the Slack and PagerDuty fakes; a passing rerun
resolves it. Real servers (Debian's), started with `watershed stack up prometheus`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quality.metrics import push
from quality.results import CheckpointOutcome, ExpectationOutcome
from simulator.fakes.alert_receivers import AlertReceivers
from watershed.stack.process import free_port

WATERSHED = str(Path(sys.executable).parent / "watershed")
DAY = "2026-11-20"
ROUTING_KEY = "a" * 32


def outcome(checkpoint: str, suite: str, failed: list[str], met: list[str]) -> CheckpointOutcome:
    def one(name: str, success: bool) -> ExpectationOutcome:
        return ExpectationOutcome(suite=suite, name=name, expectation="x", columns=[], description="", success=success)

    expectations = [one(n, False) for n in failed] + [one(n, True) for n in met]
    return CheckpointOutcome(
        checkpoint=checkpoint, date=DAY, success=not failed, evaluated=len(expectations), met=len(met),
        score=len(met) / len(expectations), expectations=expectations,
    )  # fmt: skip


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout:.0f} s")


def monitoring_env(state: Path, receivers: AlertReceivers, routing_key: str, **settings: str) -> dict[str, str]:
    """The environment of a test's own monitoring stack: no WATERSHED_* of this process, free
    ports, Alertmanager pointed at `receivers`, quick scrapes and groups; `settings` override
    (names without the WATERSHED_ prefix)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    return {
        **clean,
        "WATERSHED_STATE_DIR": str(state),
        "WATERSHED_PROMETHEUS_PORT": str(free_port()),
        "WATERSHED_PUSHGATEWAY_PORT": str(free_port()),
        "WATERSHED_ALERTMANAGER_PORT": str(free_port()),
        "WATERSHED_EXPORTER_PORT": str(free_port()),
        "WATERSHED_STATSD_PORT": str(free_port()),
        "WATERSHED_STATSD_EXPORTER_PORT": str(free_port()),
        "WATERSHED_MONITORING_SCRAPE_INTERVAL": "1s",
        "WATERSHED_MONITORING_COLLECTOR_TARGETS": "[]",
        "WATERSHED_ALERT_SLACK_WEBHOOK_URL": receivers.slack_url,
        "WATERSHED_ALERT_PAGERDUTY_ROUTING_KEY": routing_key,
        "WATERSHED_ALERT_PAGERDUTY_URL": receivers.pagerduty_url,
        "WATERSHED_ALERT_GROUP_WAIT": "2s",
        "WATERSHED_ALERT_GROUP_INTERVAL": "2s",
        **{f"WATERSHED_{name}": value for name, value in settings.items()},
    }


@pytest.fixture
def monitoring(tmp_path: Path) -> Iterator[tuple[dict[str, str], AlertReceivers]]:
    receivers = AlertReceivers()
    env = monitoring_env(tmp_path / "state", receivers, ROUTING_KEY)
    try:
        up = subprocess.run(
            [WATERSHED, "stack", "up", "prometheus"], env=env, capture_output=True, text=True, timeout=120
        )
        assert up.returncode == 0, up.stderr
        assert [line.split(":")[0] for line in up.stdout.splitlines()] == [
            "pushgateway",
            "alertmanager",
            "exporter",
            "statsd",
            "prometheus",
        ]
        yield env, receivers
    finally:
        subprocess.run([WATERSHED, "stack", "down", "prometheus"], env=env, capture_output=True, text=True, timeout=120)
        receivers.stop()


def test_a_failed_checkpoint_pages_once_names_its_expectations_and_resolves(monitoring) -> None:  # type: ignore[no-untyped-def]
    env, receivers = monitoring
    gateway = f"http://127.0.0.1:{env['WATERSHED_PUSHGATEWAY_PORT']}"
    prometheus = f"http://127.0.0.1:{env['WATERSHED_PROMETHEUS_PORT']}"
    status = subprocess.run([WATERSHED, "stack", "status", "prometheus"], env=env, capture_output=True, text=True)
    assert "receivers: slack, slack-and-pagerduty" in status.stdout

    bronze = outcome("bronze", "bronze.events", ["no_raw_pii:email", "no_raw_pii:phone"], ["has_rows"])
    marts = outcome("marts", "marts.daily_revenue", ["volume_day_over_day"], ["has_rows"])
    assert push(bronze, gateway) and push(marts, gateway)

    # Prometheus sees them with the pushed labels (honor_labels), then fires one alert per failed expectation
    def firing() -> list[dict[str, Any]]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    alerts = wait_for("three alerts firing", lambda: (found := firing()) and len(found) == 3 and found)
    assert sorted((a["labels"]["checkpoint"], a["labels"]["expectation"], a["labels"]["severity"]) for a in alerts) == [
        ("bronze", "no_raw_pii:email", "critical"),
        ("bronze", "no_raw_pii:phone", "critical"),
        ("marts", "volume_day_over_day", "warning"),
    ]

    # Slack: one message per checkpoint (grouped), naming each failed expectation; PagerDuty: one page, bronze's
    received = wait_for(
        "two Slack messages and one page",
        lambda: (r := receivers.snapshot()) and len(r["slack"]) >= 2 and len(r["pagerduty"]) >= 1 and r,
    )
    time.sleep(3)  # a group interval more: nothing else arrives
    received = receivers.snapshot()
    assert len(received["slack"]) == 2 and len(received["pagerduty"]) == 1
    texts = sorted(m["attachments"][0]["title"] + "\n" + m["attachments"][0]["text"] for m in received["slack"])
    assert texts == [
        "[FIRING:1] QualityCheckpointFailed (warning)\n"
        "- quality checkpoint marts failed: marts.daily_revenue/volume_day_over_day\n",
        "[FIRING:2] QualityCheckpointFailed (critical)\n"
        "- quality checkpoint bronze failed: bronze.events/no_raw_pii:email\n"
        "- quality checkpoint bronze failed: bronze.events/no_raw_pii:phone\n",
    ]
    page = received["pagerduty"][0]
    assert page["routing_key"] == ROUTING_KEY and page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == (
        "QualityCheckpointFailed: quality checkpoint bronze failed: bronze.events/no_raw_pii:email; "
        "quality checkpoint bronze failed: bronze.events/no_raw_pii:phone; "
    )

    # the rerun of bronze passes: its push replaces the failed series, the page and the Slack message resolve
    assert push(outcome("bronze", "bronze.events", [], ["no_raw_pii:email", "no_raw_pii:phone", "has_rows"]), gateway)
    resolved = wait_for(
        "the page resolved",
        lambda: (r := receivers.snapshot()) and len(r["pagerduty"]) >= 2 and r,
    )
    assert resolved["pagerduty"][1]["event_action"] == "resolve"
    assert resolved["pagerduty"][1]["dedup_key"] == page["dedup_key"]
    slack_resolved = wait_for(
        "the Slack message resolved",
        lambda: [m for m in receivers.snapshot()["slack"] if m["attachments"][0]["title"].startswith("[RESOLVED]")],
    )
    assert [m["attachments"][0]["title"] for m in slack_resolved] == ["[RESOLVED] QualityCheckpointFailed (critical)"]


def test_airflow_callbacks_and_real_time_anomalies_take_the_same_path(monitoring, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The callbacks and the real-time job post to Alertmanager's API: the run's failure pages
    (critical), the task's failure and a traffic spike reach Slack only (warnings)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from spark_jobs.streaming import webhooks
    from spark_jobs.streaming.anomaly_rules import Alert
    from watershed.alerts import run_failed, task_failed

    env, receivers = monitoring
    alertmanager = f"http://127.0.0.1:{env['WATERSHED_ALERTMANAGER_PORT']}"
    for key in [k for k in os.environ if k.startswith("WATERSHED_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WATERSHED_STATE_DIR", env["WATERSHED_STATE_DIR"])
    monkeypatch.setenv("WATERSHED_ALERTMANAGER_URL", alertmanager)

    run = SimpleNamespace(run_id="scheduled__2026-11-20T02:00:00+00:00", dag_id="ecommerce_daily")
    ti = SimpleNamespace(dag_id="ecommerce_daily", task_id="landing", try_number=3)
    task_failed({"task_instance": ti, "dag_run": run, "exception": RuntimeError("Kafka unreachable"),
                 "data_interval_start": "2026-11-20"})  # fmt: skip
    run_failed({"dag_run": run, "data_interval_start": "2026-11-20", "reason": "task_failure"})
    spike = Alert(
        rule="traffic_spike", window_start=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        window_end=datetime(2026, 11, 20, 10, 5, tzinfo=UTC), value=900, previous=100, ratio=9.0, threshold=3.0,
        severity="warning",
    )  # fmt: skip
    sent = webhooks.deliver([spike], slack_url=None, pagerduty_url=None, pagerduty_routing_key=None,
                            alertmanager_url=alertmanager)  # fmt: skip
    assert sent == {"delivered": 1, "failed": 0}

    received = wait_for(
        "three Slack messages and one page",
        lambda: (r := receivers.snapshot()) and len(r["slack"]) >= 3 and len(r["pagerduty"]) >= 1 and r,
    )
    time.sleep(3)  # a group interval more: nothing else arrives
    received = receivers.snapshot()
    assert sorted(m["attachments"][0]["title"] for m in received["slack"]) == [
        "[FIRING:1] AirflowRunFailed (critical)",
        "[FIRING:1] AirflowTaskFailed (warning)",
        "[FIRING:1] RealtimeAnomaly (warning)",
    ]
    texts = {m["attachments"][0]["title"]: m["attachments"][0]["text"] for m in received["slack"]}
    assert texts["[FIRING:1] AirflowTaskFailed (warning)"] == "- Watershed: ecommerce_daily.landing failed\n"
    assert [p["payload"]["summary"] for p in received["pagerduty"]] == [
        "AirflowRunFailed: Watershed: run scheduled__2026-11-20T02:00:00+00:00 of ecommerce_daily failed; "
    ]
    # Alertmanager holds each with its labels and the details as the description
    held = {a["labels"]["alertname"]: a for a in httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()}
    assert held["AirflowTaskFailed"]["labels"] == {
        "alertname": "AirflowTaskFailed", "severity": "warning", "pipeline": "ecommerce_daily", "task": "landing",
    }  # fmt: skip
    assert held["AirflowTaskFailed"]["annotations"]["description"].splitlines()[-1] == "error: Kafka unreachable"
    assert held["RealtimeAnomaly"]["labels"]["rule"] == "traffic_spike"


def test_a_failed_run_mutes_the_staleness_it_causes_until_it_resolves(monitoring) -> None:  # type: ignore[no-untyped-def]
    """The freshness inhibition, live in Alertmanager: the rules' own alerts posted as Prometheus
    posts them (their timing is promtool's to test: DataFreshnessHigh waits 5 minutes). While the
    failed run pages, the marts' staleness it explains is held; once the run's alert resolves and
    the data is still stale, the staleness is sent on its own."""
    env, receivers = monitoring
    alertmanager = f"http://127.0.0.1:{env['WATERSHED_ALERTMANAGER_PORT']}"

    def post(name: str, severity: str, ends_in: float, **labels: str) -> None:
        now = time.time()
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"  # noqa: E731
        alert = {"labels": {"alertname": name, "severity": severity, **labels},
                 "annotations": {"summary": f"{name} {labels}"},
                 "startsAt": stamp(now - 60), "endsAt": stamp(now + ends_in)}  # fmt: skip
        assert httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=5).status_code == 200

    post("PipelineRunFailed", "critical", 600, pipeline="ecommerce_daily")
    post("DataFreshnessHigh", "warning", 600, store="marts")

    def held() -> list[dict[str, Any]]:
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        return [a for a in alerts if a["labels"]["alertname"] == "DataFreshnessHigh" and a["status"]["inhibitedBy"]]

    wait_for("the staleness held as inhibited", held, 30)
    wait_for("the page", lambda: receivers.snapshot()["pagerduty"], 30)
    time.sleep(5)  # two group intervals more: the symptom is not sent
    during = receivers.snapshot()
    assert [m["attachments"][0]["title"] for m in during["slack"]] == ["[FIRING:1] PipelineRunFailed (critical)"]
    assert [p["event_action"] for p in during["pagerduty"]] == ["trigger"]

    post("PipelineRunFailed", "critical", 0, pipeline="ecommerce_daily")  # a later run succeeded
    post("DataFreshnessHigh", "warning", 600, store="marts")  # Prometheus resends what still fires
    wait_for(
        "the staleness sent once its cause resolved",
        lambda: any(
            m["attachments"][0]["title"] == "[FIRING:1] DataFreshnessHigh (warning)"
            for m in receivers.snapshot()["slack"]
        ),
        30,
    )
    after = receivers.snapshot()
    assert sorted(m["attachments"][0]["title"] for m in after["slack"]) == [
        "[FIRING:1] DataFreshnessHigh (warning)",
        "[FIRING:1] PipelineRunFailed (critical)",
        "[RESOLVED] PipelineRunFailed (critical)",
    ]
    assert [p["event_action"] for p in after["pagerduty"]] == ["trigger", "resolve"]  # the warning never pages
