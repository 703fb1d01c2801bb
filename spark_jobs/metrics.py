"""The batch jobs' per-run figures for Prometheus, pushed to the Pushgateway.

A bounded run of `watershed land --until`, `watershed sessionize --date D` or `watershed gold
--date D` pushes one group keyed by ``job`` and ``date`` (the day it built, or landing's
``--until`` day), so rerunning a day replaces that day's figures instead of adding to them,
and each day's run stays visible beside the others. Pushed only when
``WATERSHED_PUSHGATEWAY_URL`` is set (the stack's Airflow sets it); a push that fails is
logged and the job still succeeds: its report in the lake is the record.

Metrics (labels ``batch_job`` and ``date``, the push's grouping key under Pushgateway job
``watershed_batch``; ``table`` for rows out):

* ``watershed_job_duration_seconds``: wall time of the run;
* ``watershed_job_rows_in``: rows the run read (absent where the job does not count them);
* ``watershed_job_rows_out{table}``: rows the run wrote, per lake table;
* ``watershed_job_quarantined_rows``: rows set aside with a reason (sessionize), or records that
  could not be parsed (landing);
* ``watershed_job_duplicates_removed``: valid rows dropped as repeats of an event id;
* ``watershed_job_last_success_seconds``: when the run finished (Unix time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

PUSH_JOB = "watershed_batch"


@dataclass(frozen=True)
class JobRun:
    job: str
    date: str
    duration_seconds: float
    rows_out: dict[str, int]
    rows_in: int | None = None
    quarantined: int = 0
    duplicates_removed: int = 0
    finished: datetime = field(default_factory=lambda: datetime.now(UTC))


def job_run(job: str, report: dict[str, Any], duration_seconds: float, finished: datetime | None = None) -> JobRun:
    """The figures of one run, read from the report the job returned (and wrote to the lake)."""
    finished = finished or datetime.now(UTC)
    if job == "sessionize":
        return JobRun(
            job,
            report["date"],
            duration_seconds,
            rows_in=report["valid_bronze_rows"] + report["quarantined"],
            rows_out={"silver/events": report["silver_events"], "silver/sessions": report["silver_sessions"]},
            quarantined=report["quarantined"],
            duplicates_removed=report["duplicates_removed"],
            finished=finished,
        )
    if job == "gold":
        return JobRun(
            job,
            report["date"],
            duration_seconds,
            rows_out={"gold/product_interactions": report["product_interactions"]},
            finished=finished,
        )
    if job == "land":
        day = datetime.fromisoformat(report["until"]).date().isoformat() if "until" in report else None
        return JobRun(
            job,
            day or finished.date().isoformat(),
            duration_seconds,
            rows_in=report["rows"] + report["unparseable"],
            rows_out={"bronze/events": report["rows"]},
            quarantined=report["unparseable"],
            finished=finished,
        )
    raise ValueError(f"no metrics for job {job!r} (known: land, sessionize, gold)")


def registry(run: JobRun) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    group = ["batch_job", "date"]
    key = (run.job, run.date)

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, group, registry=reg).labels(*key).set(value)

    gauge("watershed_job_duration_seconds", "Wall time of the run.", run.duration_seconds)
    if run.rows_in is not None:
        gauge("watershed_job_rows_in", "Rows the run read.", run.rows_in)
    rows_out = Gauge("watershed_job_rows_out", "Rows the run wrote, per lake table.", [*group, "table"], registry=reg)
    for table, rows in sorted(run.rows_out.items()):
        rows_out.labels(*key, table).set(rows)
    gauge("watershed_job_quarantined_rows", "Rows set aside with a reason.", run.quarantined)
    gauge("watershed_job_duplicates_removed", "Valid rows dropped as repeats of an event id.", run.duplicates_removed)
    gauge("watershed_job_last_success_seconds", "When the run finished.", run.finished.timestamp())
    return reg


def push(run: JobRun, url: str) -> bool:
    """Replace the Pushgateway's group of this job and day with this run's figures."""
    from prometheus_client import push_to_gateway

    try:
        push_to_gateway(
            url, job=PUSH_JOB, grouping_key={"batch_job": run.job, "date": run.date}, registry=registry(run)
        )
    except OSError as error:
        log.error("could not push the %s metrics of %s to %s: %s", run.job, run.date, url, error)
        return False
    return True
