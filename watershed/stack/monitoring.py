"""Prometheus, Alertmanager and the Pushgateway in the local stack (Debian's packages).

Each runs as a plain process on loopback with its data under the state folder. Their
configuration is generated at every start from the settings: `prometheus_config` (what to scrape,
the repository's alert rules from ``monitoring/rules/``, where Alertmanager is) and
`alertmanager_config` (the routes: every alert to Slack, critical ones also to PagerDuty; the
inhibitions). Both are pure functions of the settings, tested without a server.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from watershed.errors import StackError
from watershed.paths import monitoring_dir
from watershed.settings import Settings
from watershed.stack.service import Service, write_private

RULE_FILES = ("watershed.rules.yml",)

# While a cause fires, the symptoms it explains are muted: the on-call person gets the cause once.
# (cause, symptoms, labels both must share: empty for platform-wide causes)
INHIBITIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # the collector cannot write to Kafka: the layers after it fall behind and fail their checks
    (
        "CollectorKafkaUnavailable",
        "QualityCheckpointFailed|CollectorServerErrors|DataFreshnessHigh|ConsumerLagGrowing|ExporterSourceDown",
        (),
    ),
    # a DAG run failed: the marts it did not build are stale for that reason
    ("PipelineRunFailed", "DataFreshnessHigh", ()),
    ("AirflowRunFailed", "DataFreshnessHigh", ()),
    # Airflow's callback paged for the run at once: the exporter's rule for the same pipeline
    # (a scrape later) is the same news
    ("AirflowRunFailed", "PipelineRunFailed", ("pipeline",)),
    # the real-time job hangs: it falls behind for that reason
    ("RealtimeHeartbeatMissing", "ConsumerLagGrowing", ()),
)


# Spark's streaming source names its gauges after the query (spark.sql.streaming.metricsEnabled,
# namespace watershed_realtime): metrics_watershed_realtime_driver_spark_streaming_<query>_<name>_Value
SPARK_STREAMING_METRICS = {
    "inputRate_total": "spark_streaming_input_rows_per_second",
    "processingRate_total": "spark_streaming_processed_rows_per_second",
    "latency": "spark_streaming_batch_duration_ms",
    "eventTime_watermark": "spark_streaming_watermark_ms",
    "states_rowsTotal": "spark_streaming_state_rows",
    "states_usedBytes": "spark_streaming_state_bytes",
}


def spark_streaming_relabels() -> list[dict[str, Any]]:
    """Each streaming gauge as one series per query (`spark_streaming_input_rows_per_second{query}`);
    the servlet's other driver series are dropped (the executors' endpoint has the JVM's)."""
    rules: list[dict[str, Any]] = []
    for spark_name, name in SPARK_STREAMING_METRICS.items():
        pattern = f"metrics_watershed_realtime_driver_spark_streaming_(.+)_{spark_name}_Value"
        rules += [
            {"source_labels": ["__name__"], "regex": pattern, "target_label": "query", "replacement": "$1"},
            {"source_labels": ["__name__"], "regex": pattern, "target_label": "__name__", "replacement": name},
        ]
    return [*rules, {"source_labels": ["__name__"], "regex": "metrics_watershed_realtime_.*", "action": "drop"}]


def prometheus_config(settings: Settings) -> dict[str, Any]:
    interval = settings.monitoring_scrape_interval
    realtime = f"127.0.0.1:{settings.realtime_ui_port}"

    def job(name: str, targets: list[str], **extra: Any) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": targets}], **extra}

    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [f"rules/{name}" for name in RULE_FILES],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{settings.alertmanager_port}"]}]}]},
        "scrape_configs": [
            job("prometheus", [f"127.0.0.1:{settings.prometheus_port}"]),
            job("alertmanager", [f"127.0.0.1:{settings.alertmanager_port}"]),
            # the pushed series carry their own job and grouping labels: keep them
            job("pushgateway", [f"127.0.0.1:{settings.pushgateway_port}"], honor_labels=True),
            # the platform's own state, read from the stores at each scrape (monitoring/exporter.py)
            job("watershed", [f"127.0.0.1:{settings.exporter_port}"]),
            # the broker's JMX metrics (the exporter's java agent inside the broker's JVM)
            job("kafka", [f"127.0.0.1:{settings.kafka_metrics_port}"]),
            # Airflow's StatsD metrics, as the statsd_exporter turns them into series
            job("airflow", [f"127.0.0.1:{settings.statsd_exporter_port}"]),
            # Spark's own metrics of the real-time job, while it runs (its UI port): the driver's,
            # the streaming queries' renamed, and the executors'
            job(
                "spark-realtime",
                [realtime],
                metrics_path="/metrics/prometheus",
                metric_relabel_configs=spark_streaming_relabels(),
            ),
            job("spark-realtime-executors", [realtime], metrics_path="/metrics/executors/prometheus"),
            *(
                [job("collector", list(settings.monitoring_collector_targets))]
                if settings.monitoring_collector_targets
                else []
            ),
        ],
    }


SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})'  # noqa: E501
SLACK_TEXT = "{{ range .Alerts }}- {{ .Annotations.summary }}\n{{ end }}"
PAGERDUTY_DESCRIPTION = "{{ .CommonLabels.alertname }}: {{ range .Alerts.Firing }}{{ .Annotations.summary }}; {{ end }}"


def alertmanager_config(settings: Settings) -> dict[str, Any]:
    """Routes: every alert to Slack; critical ones to Slack and PagerDuty. A receiver whose
    secret is not set is left out (its alerts are kept in Alertmanager, sent nowhere)."""
    slack = settings.alert_slack_webhook_url
    pagerduty = settings.alert_pagerduty_routing_key
    slack_configs = (
        [{"api_url": slack.get_secret_value(), "send_resolved": True, "title": SLACK_TITLE, "text": SLACK_TEXT}]
        if slack
        else []
    )
    pagerduty_configs = (
        [
            {
                "routing_key": pagerduty.get_secret_value(),
                "url": settings.alert_pagerduty_url,
                "send_resolved": True,
                "severity": "critical",
                "description": PAGERDUTY_DESCRIPTION,
            }
        ]
        if pagerduty
        else []
    )
    return {
        "route": {
            "receiver": "slack",
            # one notification per alert name and checkpoint (or instance): a failed checkpoint's
            # expectations arrive together, named one per line
            "group_by": ["alertname", "checkpoint", "instance"],
            "group_wait": settings.alert_group_wait,
            "group_interval": settings.alert_group_interval,
            "repeat_interval": settings.alert_repeat_interval,
            "routes": [{"matchers": ['severity="critical"'], "receiver": "slack-and-pagerduty"}],
        },
        "receivers": [
            {"name": "slack", **({"slack_configs": slack_configs} if slack_configs else {})},
            {
                "name": "slack-and-pagerduty",
                **({"slack_configs": slack_configs} if slack_configs else {}),
                **({"pagerduty_configs": pagerduty_configs} if pagerduty_configs else {}),
            },
        ],
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname="{cause}"'],
                "target_matchers": [f'alertname=~"{symptoms}"'],
                **({"equal": list(equal)} if equal else {}),
            }
            for cause, symptoms, equal in INHIBITIONS
        ],
    }


class _Monitoring(Service):
    binary_name: str
    package: str
    port_setting: str
    startup_timeout = 60.0

    @property
    def port(self) -> int:
        return int(getattr(self.settings, self.port_setting))

    @property
    def ports(self) -> dict[str, int]:
        return {self.name: self.port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_installed(self) -> None:
        binary = shutil.which(self.binary_name)
        if binary is None:
            raise StackError(
                f"{self.binary_name} is missing: run `make setup` as root, or install Debian's package: "
                f"apt-get install {self.package}"
            )
        self.binary = binary

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.address}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class Pushgateway(_Monitoring):
    """Where batch jobs and quality checkpoints push their metrics (one group per job and
    checkpoint, so a rerun replaces its series); kept on disk across restarts."""

    name = "pushgateway"
    binary_name = "prometheus-pushgateway"
    package = "prometheus-pushgateway"
    port_setting = "pushgateway_port"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [self.binary, f"--web.listen-address=127.0.0.1:{self.port}",
                f"--persistence.file={self.home / 'metrics.store'}", "--persistence.interval=30s"]  # fmt: skip


class Alertmanager(_Monitoring):
    """Routes the alerts Prometheus raises to Slack and PagerDuty (alertmanager_config)."""

    name = "alertmanager"
    binary_name = "prometheus-alertmanager"
    package = "prometheus-alertmanager"
    port_setting = "alertmanager_port"

    def prepare(self) -> None:
        write_private(
            self.home / "alertmanager.yml", yaml.safe_dump(alertmanager_config(self.settings), sort_keys=False)
        )

    def command(self) -> list[str]:
        # one instance: no cluster gossip port
        return [self.binary, f"--config.file={self.home / 'alertmanager.yml'}",
                f"--storage.path={self.home / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address="]  # fmt: skip

    def detail(self) -> str:
        receivers = [r["name"] for r in alertmanager_config(self.settings)["receivers"] if len(r) > 1]
        return f"receivers: {', '.join(receivers) or 'none configured'}"


class StatsdExporter(Service):
    """Prometheus's statsd_exporter (built from the Go module proxy by `make setup`): Airflow sends
    its StatsD metrics here over UDP, with their tags (InfluxDB style), and the rules of
    ``monitoring/airflow-statsd.yml`` name them; Prometheus scrapes the result."""

    name = "statsd"

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / "bin" / "statsd_exporter"

    @property
    def ports(self) -> dict[str, int]:
        return {"web": self.settings.statsd_exporter_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.statsd_exporter_port}"

    def check_installed(self) -> None:
        if not self.binary.is_file():
            raise StackError(f"the statsd_exporter is missing from {self.binary.parent}: run `make setup`")

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s = self.settings
        return [str(self.binary), f"--web.listen-address=127.0.0.1:{s.statsd_exporter_port}",
                f"--statsd.listen-udp=127.0.0.1:{s.statsd_port}", "--statsd.listen-tcp=",
                f"--statsd.mapping-config={monitoring_dir() / 'airflow-statsd.yml'}"]  # fmt: skip

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.address}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def detail(self) -> str:
        return f"StatsD on udp 127.0.0.1:{self.settings.statsd_port}"


class Prometheus(_Monitoring):
    """Scrapes the stack and evaluates the repository's alert rules (prometheus_config)."""

    name = "prometheus"
    requires = ("pushgateway", "alertmanager", "exporter", "statsd")
    binary_name = "prometheus"
    package = "prometheus"
    port_setting = "prometheus_port"

    def prepare(self) -> None:
        rules = self.home / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        for name in RULE_FILES:
            shutil.copyfile(monitoring_dir() / "rules" / name, rules / name)
        config = yaml.safe_dump(prometheus_config(self.settings), sort_keys=False)
        (self.home / "prometheus.yml").write_text(config)

    def command(self) -> list[str]:
        return [self.binary, f"--config.file={self.home / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.home / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle"]  # fmt: skip

    def detail(self) -> str:
        import httpx

        try:
            groups = httpx.get(f"{self.address}/api/v1/rules", timeout=2).json()["data"]["groups"]
            targets = httpx.get(f"{self.address}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
        except (httpx.HTTPError, ValueError, KeyError):
            return ""
        rules = sum(len(g["rules"]) for g in groups)
        up = sum(1 for t in targets if t.get("health") == "up")
        return f"{rules} alert rules, {up}/{len(targets)} targets up"


class Exporter(Service):
    """`watershed monitor exporter`: the platform's own state (pipeline runs, consumer lag, the
    real-time job's heartbeat, the warehouse's freshness) for Prometheus, read at each scrape.
    The core starts the monitoring room's command; it does not import it."""

    name = "exporter"
    startup_timeout = 30.0

    @property
    def ports(self) -> dict[str, int]:
        return {self.name: self.settings.exporter_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.exporter_port}/metrics"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        watershed = str(Path(sys.executable).parent / "watershed")
        return [watershed, "monitor", "exporter", "--port", str(self.settings.exporter_port)]

    def environment(self) -> dict[str, str]:
        # the stores of this stack's settings, whatever the shell that started it had: the state
        # folder (lake, warehouse, the real-time job's files), Airflow's database, the broker
        s = self.settings
        return {
            **os.environ,
            "WATERSHED_STATE_DIR": str(s.state_dir),
            "WATERSHED_POSTGRES_PORT": str(s.postgres_port),
            "WATERSHED_KAFKA_PORT": str(s.kafka_port),
        }

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(self.address, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False
