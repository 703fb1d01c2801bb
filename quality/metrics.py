"""The quality score and expectation counts for Prometheus.

Two ways, both optional to consume: a file per checkpoint in the textfile-collector folder
(``<state dir>/metrics/watershed_quality_<checkpoint>.prom``, next to the pipeline's
``watershed_pipeline.prom``; written atomically, so
node_exporter's ``--collector.textfile.directory`` or any scraper of the folder never reads half a
file), and, when ``WATERSHED_QUALITY_PUSHGATEWAY_URL`` is set, a push of the same metrics to the
Pushgateway (job ``watershed_quality``, grouped by checkpoint).

Metrics (label ``checkpoint``; each file holds the checkpoint's latest run):

* ``watershed_quality_score``: share of expectations met (0..1);
* ``watershed_quality_success``: 1 when the checkpoint passed;
* ``watershed_quality_expectations{result="met"|"failed"}``;
* ``watershed_quality_unexpected_rows{suite,expectation}``: rows failing each expectation;
* ``watershed_quality_data_date_seconds``: the day validated (Unix time of its midnight UTC);
* ``watershed_quality_last_run_seconds``: when the run finished.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quality.results import CheckpointOutcome

log = logging.getLogger(__name__)
JOB = "watershed_quality"


def registry(outcome: CheckpointOutcome, finished: datetime | None = None) -> Any:
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    name = outcome.checkpoint
    Gauge("watershed_quality_score", "Share of expectations met.", ["checkpoint"], registry=reg).labels(name).set(
        outcome.score
    )
    Gauge("watershed_quality_success", "1 when the checkpoint passed.", ["checkpoint"], registry=reg).labels(name).set(
        1 if outcome.success else 0
    )
    counts = Gauge("watershed_quality_expectations", "Expectations by result.", ["checkpoint", "result"], registry=reg)
    counts.labels(name, "met").set(outcome.met)
    counts.labels(name, "failed").set(outcome.evaluated - outcome.met)
    rows = Gauge(
        "watershed_quality_unexpected_rows",
        "Rows failing each expectation.",
        ["checkpoint", "suite", "expectation"],
        registry=reg,
    )
    failed = Gauge(
        "watershed_quality_expectation_failed",
        "1 for each expectation the checkpoint's run failed, 0 for each it met (alert rules key on it).",
        ["checkpoint", "suite", "expectation", "date"],
        registry=reg,
    )
    for item in outcome.expectations:
        if item.unexpected_count is not None:
            rows.labels(name, item.suite, item.name).set(item.unexpected_count)
        failed.labels(name, item.suite, item.name, outcome.date).set(0 if item.success else 1)
    day = datetime.fromisoformat(outcome.date).replace(tzinfo=UTC) if outcome.date != "all" else None
    if day:
        Gauge("watershed_quality_data_date_seconds", "The day validated.", ["checkpoint"], registry=reg).labels(
            name
        ).set(day.timestamp())
    Gauge("watershed_quality_last_run_seconds", "When the run finished.", ["checkpoint"], registry=reg).labels(
        name
    ).set((finished or datetime.now(UTC)).timestamp())
    return reg


def write_textfile(outcome: CheckpointOutcome, directory: Path) -> Path:
    from prometheus_client import write_to_textfile

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"watershed_quality_{outcome.checkpoint}.prom"
    write_to_textfile(str(path), registry(outcome))
    return path


def push(outcome: CheckpointOutcome, url: str) -> bool:
    from prometheus_client import push_to_gateway

    try:
        push_to_gateway(url, job=JOB, grouping_key={"checkpoint": outcome.checkpoint}, registry=registry(outcome))
    except OSError as error:
        log.error("could not push the quality metrics to %s: %s", url, error)
        return False
    return True
