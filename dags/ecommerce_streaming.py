"""
### ecommerce_streaming

Runs and supervises the real-time job (`watershed stream run`, docs/streaming.md): 5-minute
windowed metrics to `real-time-metrics` and the lake, anomaly alerts to `alerts` and the
webhooks, live per-campaign ad counters.

The job is a long-running process, but this DAG never holds a worker slot for it. Every 5 minutes
a short run:

1. **supervise**: reads the job's pid file and heartbeat; starts the job as a detached process
   (its own session, it outlives the task) when it is not running, restarts it when its heartbeat
   is older than 2 minutes (hung), and measures the consumer lag (broker's latest offsets minus the
   offsets of the job's last micro-batch). It returns a small report (XCom).
2. **alert**: posts the report's problems (the job had died, a stale heartbeat, lag above
   500,000 records) to `WATERSHED_ALERT_WEBHOOK_URL`.

The job itself resumes from its checkpoints after any restart, so a restart never double counts.
Each run finishes in seconds; `max_active_runs=1` keeps two supervisors from racing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

MAX_HEARTBEAT_AGE_S = 120.0
MAX_LAG_RECORDS = 500_000


def _failed(context: Any) -> None:
    from watershed.alerts import task_failed

    task_failed(context)


@dag(
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=4),
    tags=["watershed", "ecommerce", "streaming"],
    doc_md=__doc__,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "execution_timeout": timedelta(minutes=2),
        "on_failure_callback": _failed,
    },
)
def ecommerce_streaming() -> None:
    @task
    def supervise() -> dict[str, Any]:
        """Start the job if it is not running, restart it if hung; report lag and problems."""
        from spark_jobs.streaming.config import StreamConfig
        from spark_jobs.streaming.supervise import supervise as supervise_once
        from watershed.settings import load_settings

        settings = load_settings()
        report = supervise_once(
            settings,
            StreamConfig.for_settings(settings),
            max_heartbeat_age=MAX_HEARTBEAT_AGE_S,
            max_lag=MAX_LAG_RECORDS,
        )
        keys = ("action", "problems", "pid", "new_pid", "consumer_lag", "dropped_by_watermark")
        return {k: report.get(k) for k in keys}

    @task
    def alert(report: dict[str, Any]) -> bool:
        """Post the supervision's problems, if any; True when something was reported."""
        if not report["problems"]:
            return False
        from watershed.alerts import send

        send("Watershed: the real-time job needs attention", list(report["problems"]), severity="warning")
        return True

    alert(supervise())  # type: ignore[arg-type]  # an XComArg at parse time, the dict at run time


ecommerce_streaming()
