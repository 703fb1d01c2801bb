"""The alert rules and Alertmanager's routes, checked by Prometheus's and Alertmanager's own tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from watershed.alerts import API_ALERTS
from watershed.paths import monitoring_dir
from watershed.settings import Settings
from watershed.stack.monitoring import INHIBITIONS, alertmanager_config, prometheus_config

RULES = monitoring_dir() / "rules"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run `make setup` as root (Debian's prometheus packages)", pytrace=False)
    return found


def test_the_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = subprocess.run([tool("promtool"), "check", "rules", str(RULES / "watershed.rules.yml")],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 14 rules found" in checked.stdout  # 13 alerts, 1 recording rule
    tested = subprocess.run([tool("promtool"), "test", "rules", "watershed.rules.test.yml"],
                            cwd=RULES, capture_output=True, text=True, check=False)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.strip().endswith("SUCCESS")


def test_every_rule_has_a_severity_alertmanager_routes() -> None:
    groups = yaml.safe_load((RULES / "watershed.rules.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in rules if "alert" in rule}
    assert set(severities.values()) <= {"warning", "critical"}
    assert sorted(severities) == [
        "CollectorKafkaUnavailable", "CollectorServerErrors", "ConsumerLagGrowing", "DataFreshnessHigh",
        "ExporterSourceDown", "KafkaOfflinePartitions", "KafkaUnderReplicatedPartitions", "PipelineRunFailed",
        "QualityCheckpointFailed", "RealtimeHeartbeatMissing", "ScrapeTargetDown", "StateDiskFilling",
    ]  # fmt: skip
    assert [rule["record"] for rule in rules if "record" in rule] == ["data_quality_score"]
    # every inhibited name is an alert of the rules (a typo would mute nothing, silently)
    inhibited = {name for _, symptoms, _ in INHIBITIONS for name in symptoms.split("|")}
    assert inhibited | {cause for cause, _, _ in INHIBITIONS} <= set(severities) | set(API_ALERTS)


def configured(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        alert_slack_webhook_url=SecretStr("http://127.0.0.1:1/slack/services/T/B/x"),
        alert_pagerduty_routing_key=SecretStr("0" * 32),
    )


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            {"alertname": "QualityCheckpointFailed", "severity": "critical", "checkpoint": "bronze"},
            "slack-and-pagerduty",
        ),
        ({"alertname": "QualityCheckpointFailed", "severity": "warning", "checkpoint": "marts"}, "slack"),
        ({"alertname": "ScrapeTargetDown", "severity": "warning"}, "slack"),
        ({"alertname": "CollectorKafkaUnavailable", "severity": "critical"}, "slack-and-pagerduty"),
    ],
)
def test_alertmanager_routes_warnings_to_slack_and_criticals_to_both(tmp_path, labels, receiver) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(configured(tmp_path))))
    checked = subprocess.run([tool("amtool"), "check-config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    matchers = [f"{k}={v}" for k, v in labels.items()]
    routed = subprocess.run(
        [tool("amtool"), "config", "routes", "test", f"--config.file={config}", *matchers],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert routed.stdout.strip() == receiver, routed.stderr


def test_without_secrets_no_receiver_sends_anywhere(tmp_path: Path) -> None:
    config = alertmanager_config(Settings(state_dir=tmp_path))
    assert config["receivers"] == [{"name": "slack"}, {"name": "slack-and-pagerduty"}]
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['alertname="CollectorKafkaUnavailable"'],
            "target_matchers": [
                'alertname=~"QualityCheckpointFailed|CollectorServerErrors|DataFreshnessHigh|ConsumerLagGrowing'
                '|ExporterSourceDown"'
            ],
        },
        {"source_matchers": ['alertname="PipelineRunFailed"'], "target_matchers": ['alertname=~"DataFreshnessHigh"']},
        {"source_matchers": ['alertname="AirflowRunFailed"'], "target_matchers": ['alertname=~"DataFreshnessHigh"']},
        {
            "source_matchers": ['alertname="AirflowRunFailed"'],
            "target_matchers": ['alertname=~"PipelineRunFailed"'],
            "equal": ["pipeline"],
        },
        {
            "source_matchers": ['alertname="RealtimeHeartbeatMissing"'],
            "target_matchers": ['alertname=~"ConsumerLagGrowing"'],
        },
    ]


def test_prometheus_scrapes_the_stack_and_keeps_pushed_labels(tmp_path: Path) -> None:
    # the ports given: a test stack's WATERSHED_*_PORT in this process's environment must not leak in
    config = prometheus_config(
        Settings(
            state_dir=tmp_path,
            prometheus_port=9090,
            alertmanager_port=9095,
            pushgateway_port=9091,
            exporter_port=9108,
            kafka_metrics_port=9404,
            statsd_exporter_port=9102,
            realtime_ui_port=4041,
            monitoring_collector_targets=["127.0.0.1:8000", "127.0.0.1:8001"],
        )
    )
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {name: j["static_configs"][0]["targets"] for name, j in jobs.items()} == {
        "prometheus": ["127.0.0.1:9090"],
        "alertmanager": ["127.0.0.1:9095"],
        "pushgateway": ["127.0.0.1:9091"],
        "watershed": ["127.0.0.1:9108"],
        "kafka": ["127.0.0.1:9404"],
        "airflow": ["127.0.0.1:9102"],
        "spark-realtime": ["127.0.0.1:4041"],
        "spark-realtime-executors": ["127.0.0.1:4041"],
        "collector": ["127.0.0.1:8000", "127.0.0.1:8001"],
    }
    assert jobs["pushgateway"]["honor_labels"] is True
    # Spark's endpoints of the real-time job, its streaming gauges renamed one series per query
    assert (jobs["spark-realtime"]["metrics_path"], jobs["spark-realtime-executors"]["metrics_path"]) == (
        "/metrics/prometheus", "/metrics/executors/prometheus",
    )  # fmt: skip
    relabels = jobs["spark-realtime"]["metric_relabel_configs"]
    gauge = "metrics_watershed_realtime_driver_spark_streaming_(.+)_inputRate_total_Value"
    assert relabels[:2] == [
        {"source_labels": ["__name__"], "regex": gauge, "target_label": "query", "replacement": "$1"},
        {"source_labels": ["__name__"], "regex": gauge, "target_label": "__name__",
         "replacement": "spark_streaming_input_rows_per_second"},
    ]  # fmt: skip
    assert relabels[-1] == {"source_labels": ["__name__"], "regex": "metrics_watershed_realtime_.*", "action": "drop"}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9095"]
    written = tmp_path / "prometheus.yml"
    (tmp_path / "rules").mkdir()
    shutil.copyfile(RULES / "watershed.rules.yml", tmp_path / "rules" / "watershed.rules.yml")
    written.write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(written)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_cli_writes_the_stacks_alertmanager_config_for_compose(tmp_path: Path) -> None:
    """What compose's alertmanager-config job runs: the same routes as the local stack, the secrets
    from the environment (compose passes an unset one as empty: that receiver is off)."""
    watershed = str(Path(sys.executable).parent / "watershed")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    secrets = {
        "WATERSHED_ALERT_SLACK_WEBHOOK_URL": "http://127.0.0.1:1/slack/services/T/B/x",
        "WATERSHED_ALERT_PAGERDUTY_ROUTING_KEY": "0" * 32,
    }
    out = tmp_path / "am" / "alertmanager.yml"
    wrote = subprocess.run([watershed, "monitor", "alertmanager-config", "--out", str(out)],
                           env={**clean, **secrets, "WATERSHED_STATE_DIR": str(tmp_path)},
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert (wrote.returncode, wrote.stdout) == (0, f"wrote {out}\n"), wrote.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(out.read_text()) == alertmanager_config(configured(tmp_path))
    checked = subprocess.run([tool("amtool"), "check-config", str(out)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    unset = {name: "" for name in secrets}
    printed = subprocess.run([watershed, "monitor", "alertmanager-config"],
                             env={**clean, **unset, "WATERSHED_STATE_DIR": str(tmp_path)},
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert yaml.safe_load(printed.stdout)["receivers"] == [{"name": "slack"}, {"name": "slack-and-pagerduty"}]
