"""The real-time job's heartbeat: micro-batch progress folded into `heartbeat.json`.

The driver loop (:func:`spark_jobs.streaming.job.run`) polls each query with :func:`new_progress`
and hands every new micro-batch to :meth:`Heartbeat.observe`; :meth:`Heartbeat.write` replaces
the file after every micro-batch and every :data:`HEARTBEAT_EVERY` seconds when idle. The file
holds the job's pid and status, and per query the last batch id, the Kafka end offsets it read
up to, the watermark, timings and the running total of events dropped as later than the
watermark. `watershed stream status` and the Airflow supervision task read it
(:mod:`spark_jobs.streaming.supervise`).

No Spark import: progress arrives as the JVM's JSON, parsed into plain dicts.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.state import now, read_json, write_json

if TYPE_CHECKING:
    from pyspark.sql.streaming import StreamingQuery

QUERIES = ("metrics", "ad_counters")
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats while idle


def new_progress(query: StreamingQuery, after: int) -> list[dict[str, Any]]:
    """Progress of the query's micro-batches after batch `after`, oldest first, as JSON data.

    Reads the JVM's progress objects as their JSON: pyspark's `recentProgress` converts all of the
    last 100 field by field over py4j on every call, and polled twice a second that took about a
    third of the JVM's CPU at 10k events/s (a JFR profile of bench/streaming.py: docs/streaming.md).
    Here a poll is two py4j calls unless batches were missed."""
    jquery = query._jsq
    last = jquery.lastProgress()
    if last is None or last.batchId() <= after:
        return []
    if last.batchId() == after + 1:
        return [json.loads(last.json())]
    return [json.loads(p.json()) for p in jquery.recentProgress() if p.batchId() > after]


def state_total(progress: dict[str, Any], figure: str) -> int:
    """One figure of a micro-batch's progress summed over its stateful operators."""
    return sum(int(op.get(figure, 0)) for op in progress.get("stateOperators", []))


def dropped_by_watermark(progress: dict[str, Any]) -> int:
    """Rows a micro-batch's stateful operators dropped for being older than the watermark."""
    return state_total(progress, "numRowsDroppedByWatermark")


def end_offsets(progress: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{topic: {partition: next offset}} the micro-batch read up to."""
    out: dict[str, dict[str, int]] = {}
    for source in progress.get("sources", []):
        offsets = source.get("endOffset")
        if isinstance(offsets, str):
            offsets = json.loads(offsets)
        for topic, parts in (offsets or {}).items():
            out.setdefault(topic, {}).update({str(p): int(o) for p, o in parts.items()})
    return out


class Heartbeat:
    """Folds micro-batch progress into the heartbeat file (late-event totals survive restarts:
    they are read back at start, and a batch id is never counted twice)."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        previous = read_json(config.heartbeat).get("queries", {})
        self.queries: dict[str, dict[str, Any]] = {
            name: {
                "dropped_by_watermark_total": int(previous.get(name, {}).get("dropped_by_watermark_total", 0)),
                "last_batch_id": int(previous.get(name, {}).get("last_batch_id", -1)),
                "end_offsets": previous.get(name, {}).get("end_offsets", {}),
            }
            for name in QUERIES
        }
        self.status = "starting"

    def observe(self, name: str, progress: dict[str, Any]) -> bool:
        state = self.queries[name]
        batch_id = int(progress.get("batchId", -1))
        if batch_id <= state["last_batch_id"]:
            return False
        state["last_batch_id"] = batch_id
        state["dropped_by_watermark_total"] += dropped_by_watermark(progress)
        state["end_offsets"] = end_offsets(progress) or state["end_offsets"]
        state.update(
            {
                "batch_timestamp": progress.get("timestamp"),
                "input_rows": int(progress.get("numInputRows", 0)),
                "input_rows_per_second": progress.get("inputRowsPerSecond"),
                "processed_rows_per_second": progress.get("processedRowsPerSecond"),
                "batch_duration_ms": int(progress.get("batchDuration", 0)),
                # where the batch's time went (addBatch = the query itself, with its sink)
                "phase_ms": {k: int(v) for k, v in (progress.get("durationMs") or {}).items()},
                "state_commit_ms": state_total(progress, "commitTimeMs"),
                "state_rows": state_total(progress, "numRowsTotal"),
                "watermark": (progress.get("eventTime") or {}).get("watermark"),
            }
        )
        return True

    def write(self, status: str | None = None) -> None:
        if status:
            self.status = status
        write_json(
            self.config.heartbeat,
            {"pid": os.getpid(), "status": self.status, "updated_at": now(), "queries": self.queries},
        )
