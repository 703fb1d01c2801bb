"""Grafana dashboards as code: each panel is a title and its PromQL, laid out and written as
Grafana's JSON model into ``monitoring/dashboards/`` (compose's Grafana provisions that folder).

    python -m monitoring.dashboards          # rewrite the JSON files from this module
    python -m monitoring.dashboards --check  # fail if a file differs (tests/monitoring runs it)

Grafana cannot run on the project's machines, so the queries are proven instead against the real
Prometheus after a real pipeline run (tests/airflow_ui/test_airflow.py evaluates every panel:
each returns data, and chosen values equal what the run is known to have done). Grafana's
``$__rate_interval`` is the only template variable the queries use; `promql` replaces it the way
Grafana does for a 15 s scrape (four scrape intervals, one minute).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
FOLDER = Path(__file__).resolve().parent / "dashboards"


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    kind: str = "timeseries"  # or "stat", "table"
    unit: str = "short"
    description: str = ""
    width: int = 0  # 0: 6 for a stat, 12 otherwise
    mappings: tuple[tuple[str, str, str], ...] = ()  # (value, text, colour)


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = field(default=())


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return (expr, legend)


# a DAG run's p95 duration over the last day, from Airflow's StatsD timer (a histogram)
P95_RUN = "histogram_quantile(0.95, sum by (le, dag_id) (increase(airflow_dagrun_duration_seconds_bucket[1d])))"
UP_DOWN = (("0", "DOWN", "red"), ("1", "UP", "green"))
FAILED_OK = (("0", "FAILED", "red"), ("1", "OK", "green"))

DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        "watershed-pipeline",
        "Watershed pipeline overview",
        "The daily pipelines' runs, the data's freshness and quality, the batch jobs' figures.",
        (
            Panel(
                "Runs succeeded",
                (q("sum by (pipeline) (pipeline_success_total)", "{{pipeline}}"),),
                "stat",
                description="DAG runs that succeeded (Airflow's metadata database, through the exporter).",
            ),
            Panel("Runs failed", (q("sum by (pipeline) (pipeline_failure_total)", "{{pipeline}}"),), "stat"),
            Panel("Last run", (q("pipeline_last_run_success", "{{pipeline}}"),), "stat", mappings=FAILED_OK),
            Panel(
                "Data quality score",
                (q("data_quality_score", "{{checkpoint}}"),),
                "stat",
                "percentunit",
                "Share of expectations met by each checkpoint's latest run.",
            ),
            Panel(
                "Data freshness",
                (q("watershed_data_freshness_seconds", "{{store}}"),),
                unit="s",
                description="Now minus the newest event each store holds; the alert fires above 1 h.",
            ),
            Panel(
                "Pipeline latency: last run and p95 of the day's runs",
                (
                    q("pipeline_duration_seconds", "last {{pipeline}}"),
                    q(P95_RUN, "p95 {{dag_id}}"),
                ),
                unit="s",
                description="The last finished run (Airflow's database) and the p95 of the runs of the last 24 h"
                " (Airflow's StatsD timer dagrun.duration).",
            ),
            Panel(
                "Rows written by the batch jobs",
                (q("watershed_job_rows_out", "{{batch_job}} {{date}} {{table}}"),),
                "table",
                description="Per job, day and lake table, from the run's report (a rerun replaces its day).",
            ),
            Panel("Batch job duration", (q("watershed_job_duration_seconds", "{{batch_job}} {{date}}"),), unit="s"),
            Panel(
                "Firing alerts",
                (q('sum by (severity) (ALERTS{alertstate="firing"}) or on () vector(0)', "{{severity}}"),),
                "stat",
            ),
        ),
        ("watershed", "pipeline"),
    ),
    Dashboard(
        "watershed-collector",
        "Watershed collector",
        "Collector traffic, rejections and latency.",
        (
            Panel(
                "Collector up",
                (q('max(up{job="collector"})'),),
                "stat",
                mappings=UP_DOWN,
                description="1 when Prometheus can scrape the collector's /metrics.",
            ),
            Panel(
                "Kafka ready",
                (q("min(watershed_collector_kafka_ready)"),),
                "stat",
                mappings=UP_DOWN,
                description="0 while the collector cannot write to Kafka (it answers 503).",
            ),
            Panel("Events accepted", (q("sum(watershed_collector_events_accepted_total)"),), "stat"),
            Panel(
                "Accepted share (5m)",
                (
                    q(
                        'sum(rate(watershed_collector_requests_total{status=~"2.."}[5m]))'
                        " / sum(rate(watershed_collector_requests_total[5m]))"
                    ),
                ),
                "stat",
                "percentunit",
            ),
            Panel(
                "Request rate by status",
                (q("sum by (status) (rate(watershed_collector_requests_total[$__rate_interval]))", "{{status}}"),),
                unit="reqps",
            ),
            Panel(
                "Rejected events by reason",
                (
                    q(
                        "sum by (reason) (rate(watershed_collector_events_rejected_total[$__rate_interval]))",
                        "{{reason}}",
                    ),
                ),
            ),
            Panel(
                "Request latency",
                tuple(
                    q(
                        f"histogram_quantile({p}, sum by (le) "
                        f"(rate(watershed_collector_request_duration_seconds_bucket[$__rate_interval])))",
                        f"p{p[2:]}",
                    )
                    for p in ("0.50", "0.95", "0.99")
                ),
                unit="s",
                width=24,
            ),
        ),
        ("watershed", "collector"),
    ),
    Dashboard(
        "watershed-kafka",
        "Watershed Kafka",
        "The broker's throughput, replication and latency (JMX exporter) and the consumers' lag.",
        (
            Panel(
                "Under-replicated partitions",
                (q("sum(kafka_server_replicamanager_underreplicatedpartitions)"),),
                "stat",
            ),
            Panel("Offline partitions", (q("sum(kafka_controller_offlinepartitionscount)"),), "stat"),
            Panel("Active controllers", (q("sum(kafka_controller_activecontrollercount)"),), "stat"),
            Panel("Partitions", (q("sum(kafka_server_replicamanager_partitioncount)"),), "stat"),
            Panel(
                "Messages in per topic",
                (q("sum by (topic) (rate(kafka_server_messages_in_total[$__rate_interval]))", "{{topic}}"),),
                unit="short",
            ),
            Panel(
                "Bytes in per topic",
                (q("sum by (topic) (rate(kafka_server_bytes_in_total[$__rate_interval]))", "{{topic}}"),),
                unit="Bps",
            ),
            Panel(
                "Produce latency",
                (q('max by (quantile) (kafka_network_request_total_time_ms{request="Produce"})', "p{{quantile}}"),),
                unit="ms",
            ),
            Panel(
                "Consumer lag",
                (q("sum by (consumer, topic) (watershed_consumer_lag_records)", "{{consumer}} {{topic}}"),),
            ),
        ),
        ("watershed", "kafka"),
    ),
    Dashboard(
        "watershed-realtime",
        "Watershed real-time job",
        "The streaming job's liveness, freshness and lag, and Spark's own metrics of it while it runs.",
        (
            Panel("Running", (q("max(watershed_realtime_running)"),), "stat", mappings=UP_DOWN),
            Panel("Heartbeat age", (q("max(watershed_realtime_heartbeat_age_seconds)"),), "stat", "s"),
            Panel(
                "Freshness of the real-time metrics",
                (q('watershed_data_freshness_seconds{store="realtime"}', "watermark age"),),
                unit="s",
            ),
            Panel(
                "Lag per topic",
                (q('sum by (topic) (watershed_consumer_lag_records{consumer="realtime"})', "{{topic}}"),),
            ),
            Panel(
                "Rows in and processed per second (Spark)",
                (
                    q("sum by (query) (spark_streaming_input_rows_per_second)", "in {{query}}"),
                    q("sum by (query) (spark_streaming_processed_rows_per_second)", "processed {{query}}"),
                ),
            ),
            Panel(
                "Micro-batch duration (Spark)",
                (q("max by (query) (spark_streaming_batch_duration_ms)", "{{query}}"),),
                unit="ms",
            ),
            Panel("State rows (Spark)", (q("sum by (query) (spark_streaming_state_rows)", "{{query}}"),)),
            Panel(
                "Driver JVM heap (Spark)",
                (q('max(metrics_executor_JVMHeapMemory_bytes{job="spark-realtime-executors"})', "heap"),),
                unit="bytes",
            ),
        ),
        ("watershed", "streaming"),
    ),
    Dashboard(
        "watershed-quality",
        "Watershed data quality",
        "The Great Expectations checkpoints' latest results, per checkpoint and expectation.",
        (
            Panel("Score per checkpoint", (q("watershed_quality_score", "{{checkpoint}}"),), "stat", "percentunit"),
            Panel(
                "Checkpoints passing",
                (q("sum(watershed_quality_success) / count(watershed_quality_success)"),),
                "stat",
                "percentunit",
            ),
            Panel(
                "Failed expectations per checkpoint",
                (q('sum by (checkpoint) (watershed_quality_expectations{result="failed"})', "{{checkpoint}}"),),
                "stat",
            ),
            Panel(
                "Age of the day last validated",
                (q("(time() - watershed_quality_data_date_seconds) / 86400", "{{checkpoint}}"),),
                "stat",
                "d",
            ),
            Panel(
                "Rows failing each expectation (top 10)",
                (q("topk(10, watershed_quality_unexpected_rows)", "{{checkpoint}} {{suite}} {{expectation}}"),),
                "table",
                width=24,
            ),
        ),
        ("watershed", "quality"),
    ),
    Dashboard(
        "watershed-airflow",
        "Watershed Airflow",
        "DAG runs and task attempts from Airflow's metadata database and its StatsD metrics.",
        (
            Panel("Last run succeeded", (q("pipeline_last_run_success", "{{pipeline}}"),), "stat", mappings=FAILED_OK),
            Panel("Task failures", (q("sum by (pipeline) (pipeline_task_failures_total)", "{{pipeline}}"),), "stat"),
            Panel("Task retries", (q("sum by (pipeline) (pipeline_task_retries_total)", "{{pipeline}}"),), "stat"),
            Panel("Exporter sources up", (q("watershed_exporter_source_up", "{{source}}"),), "stat", mappings=UP_DOWN),
            Panel(
                "Runs by state",
                (
                    q("sum by (pipeline) (pipeline_success_total)", "{{pipeline}} succeeded"),
                    q("sum by (pipeline) (pipeline_failure_total)", "{{pipeline}} failed"),
                ),
            ),
            Panel("Last run's duration", (q("pipeline_duration_seconds", "{{pipeline}}"),), unit="s"),
            Panel("DAG run duration p95 (24 h)", (q(P95_RUN, "{{dag_id}}"),), unit="s"),
            Panel(
                "DAG runs finished (StatsD)",
                (q("sum by (dag_id, state) (airflow_dagrun_duration_seconds_count)", "{{dag_id}} {{state}}"),),
            ),
            Panel(
                "Slowest tasks: p95 (24 h)",
                (
                    q(
                        "topk(10, histogram_quantile(0.95, sum by (le, dag_id, task_id)"
                        " (increase(airflow_task_duration_seconds_bucket[1d]))))",
                        "{{dag_id}}.{{task_id}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Task instances finished by state (24 h)",
                (q("sum by (state) (increase(airflow_task_finished_total[1d]))", "{{state}}"),),
            ),
            Panel("Scheduler heartbeats", (q("sum(rate(airflow_scheduler_heartbeat[$__rate_interval]))"),), unit="ops"),
        ),
        ("watershed", "airflow"),
    ),
)


def promql(expr: str, rate_interval: str = "1m") -> str:
    """The query Prometheus receives from Grafana: its template variable filled in."""
    return expr.replace("$__rate_interval", rate_interval)


def _panel_json(panel: Panel, panel_id: int, x: int, y: int, width: int) -> dict[str, Any]:
    height = 4 if panel.kind == "stat" else 8
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.mappings:
        defaults["mappings"] = [
            {
                "type": "value",
                "options": {value: {"text": text, "color": colour} for value, text, colour in panel.mappings},
            }
        ]
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {
                "datasource": DATASOURCE,
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                **({"instant": True, "format": "table"} if panel.kind == "table" else {}),
            }
            for i, (expr, legend) in enumerate(panel.queries)
        ],
    }
    if panel.kind == "stat":
        body["options"] = {"colorMode": "background" if panel.mappings else "value", "graphMode": "none",
                           "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}  # fmt: skip
    return body


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """Grafana's JSON model: panels left to right in rows of 24 columns."""
    panels, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        width = panel.width or (6 if panel.kind == "stat" else 12)
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        item = _panel_json(panel, panel_id, x, y, width)
        panels.append(item)
        x, row_height = x + width, max(row_height, item["gridPos"]["h"])
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def rendered() -> dict[str, str]:
    """File name -> content of every dashboard."""
    return {
        f"{d.uid.removeprefix('watershed-')}.json": json.dumps(dashboard_json(d), indent=2) + "\n" for d in DASHBOARDS
    }


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        present = {p.name: p.read_text() for p in FOLDER.glob("*.json")}
        if present != files:
            differ = sorted(n for n in files.keys() | present.keys() if present.get(n) != files.get(n))
            print(f"stale dashboards in {FOLDER}: {', '.join(differ)}; run `python -m monitoring.dashboards`")
            return 1
        return 0
    FOLDER.mkdir(exist_ok=True)
    for old in {p.name for p in FOLDER.glob("*.json")} - files.keys():
        (FOLDER / old).unlink()
    for name, content in files.items():
        (FOLDER / name).write_text(content)
    print(f"wrote {len(files)} dashboards to {FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
