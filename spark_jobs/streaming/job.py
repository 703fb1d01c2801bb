"""The real-time job's thin IO layer: Kafka in, Kafka + lake + webhooks + counter store out.

Two streaming queries share one SparkSession:

* ``metrics``: the three source topics -> parse -> watermark on occurred_at -> drop duplicate
  event_ids within the watermark -> (window, user) aggregation in append mode -> foreachBatch
  :class:`MetricsSink` (window metrics to the `real-time-metrics` topic and the lake table,
  anomaly rules against the previous window, alerts to the `alerts` topic and the webhooks);
* ``ad_counters``: the ad-events topic -> parse -> watermark -> dedup -> foreachBatch
  :class:`AdCounterSink` (per-campaign increments into the Redis counter store, exactly once).

Both resume from their checkpoints. The driver loop writes a heartbeat file after every
micro-batch (progress, Kafka end offsets, watermark, events dropped as later than the watermark)
that `watershed stream status` and the Airflow supervision task read.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_jobs.streaming import anomaly_rules, counters, webhooks
from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.transforms import (
    METRIC_COLUMNS,
    ad_counter_deltas,
    is_valid,
    parse_events,
    user_windows,
    window_metrics,
)
from watershed.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

QUERIES = ("metrics", "ad_counters")
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats while idle


def _utc(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _producer(settings: Settings) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )


def _produce_all(producer: Any, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
    failures: list[str] = []

    def delivered(error: Any, _msg: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for key, value in records:
        producer.produce(topic, key=key.encode(), value=json.dumps(value).encode(), on_delivery=delivered)
    left = producer.flush(30)
    if left or failures:
        # raising fails the micro-batch: Spark retries it from the checkpoint on restart
        raise RuntimeError(f"{left} record(s) not delivered to {topic}; {failures[:1]}")


class MetricsSink:
    """foreachBatch of the metrics query: finalized (window, user) rows in, every output out.

    Replays are harmless: the lake write of a batch overwrites that batch's folder, Kafka records
    are keyed by window start (the same values again), and the anomaly state remembers the last
    batch it evaluated, so a replayed batch raises no second alert.
    """

    def __init__(self, settings: Settings, config: StreamConfig) -> None:
        self.settings = settings
        self.config = config
        self._producer: Any = None

    def __call__(self, user_rows: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        metrics = window_metrics(user_rows).persist()
        try:
            rows = (
                metrics.withColumn("_start_us", F.unix_micros("window_start"))
                .withColumn("_end_us", F.unix_micros("window_end"))
                .collect()
            )
            if rows:
                metrics.write.mode("overwrite").parquet(f"{self.config.metrics_table}/batch_id={batch_id}")
        finally:
            metrics.unpersist()
        windows = [
            anomaly_rules.WindowMetrics(
                window_start=_utc(r["_start_us"]),
                window_end=_utc(r["_end_us"]),
                **{c: r[c] for c in METRIC_COLUMNS[2:]},
            )
            for r in rows
        ]
        if not windows:
            return
        emitted = _now()
        records = [(w.to_json()["window_start"], {**w.to_json(), "batch_id": batch_id, "emitted_at": emitted})
                   for w in windows]  # fmt: skip
        self._produce(self.config.metrics_topic, records)
        self._alerts(windows, batch_id)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
            self._producer = None

    def _produce(self, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
        if self._producer is None:
            self._producer = _producer(self.settings)
        _produce_all(self._producer, topic, records)

    def _alerts(self, windows: list[anomaly_rules.WindowMetrics], batch_id: int) -> None:
        state = read_json(self.config.anomaly_state)
        if state.get("batch_id", -1) >= batch_id:
            return  # evaluated before a restart
        previous = anomaly_rules.WindowMetrics.from_json(state["last_window"]) if state.get("last_window") else None
        alerts, last = anomaly_rules.evaluate(previous, windows, self.config.thresholds)
        if alerts:
            emitted = _now()
            records = [(a.alert_id, {**a.to_json(), "emitted_at": emitted}) for a in alerts]
            self._produce(self.config.alerts_topic, records)
            sent = webhooks.deliver(
                alerts,
                slack_url=self.config.slack_url,
                pagerduty_url=self.config.pagerduty_url,
                pagerduty_routing_key=self.config.pagerduty_routing_key,
            )
            for alert in alerts:
                log.warning("alert %s: %s", alert.alert_id, alert.summary)
            log.info("webhooks: %s", sent)
        write_json(
            self.config.anomaly_state,
            {
                "batch_id": batch_id,
                "last_window": last.to_json() if last else None,
                "alerts_total": int(state.get("alerts_total", 0)) + len(alerts),
            },
        )


class AdCounterSink:
    """foreachBatch of the ad-counters query: per-campaign increments into Redis, exactly once
    (the batch id is checked and recorded in the same atomic script as the increments)."""

    def __init__(self, settings: Settings, config: StreamConfig) -> None:
        self.settings = settings
        self.config = config
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = counters.connect(self.settings)
        return self._client

    def __call__(self, ad_events: DataFrame, batch_id: int) -> None:
        deltas = [r.asDict() for r in ad_counter_deltas(ad_events).collect()]
        for d in deltas:
            d["cost"] = Decimal(d["cost"])
            d["revenue"] = Decimal(d["revenue"])
        counters.apply(self.client, self.config.counters_key, "ad_counters", batch_id, deltas, _now())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _source(spark: SparkSession, settings: Settings, config: StreamConfig, topics: tuple[str, ...]) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", config.starting_offsets)
    )
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    events = parse_events(reader.load())
    return events.where(is_valid(events))


def _deduplicated(events: DataFrame, config: StreamConfig) -> DataFrame:
    return events.withWatermark("occurred_at", config.watermark).dropDuplicatesWithinWatermark(["event_id"])


def start_queries(
    spark: SparkSession,
    settings: Settings,
    config: StreamConfig,
    metrics_sink: MetricsSink | None = None,
    counter_sink: AdCounterSink | None = None,
) -> dict[str, StreamingQuery]:
    """Start both queries (each from its checkpoint) and return them by name."""
    trigger: dict[str, Any] = {"availableNow": True} if config.available_now else {"processingTime": config.trigger}
    events = _deduplicated(_source(spark, settings, config, config.source_topics), config)
    metrics_rows = user_windows(events, config.window)
    ads = _deduplicated(_source(spark, settings, config, (config.ad_topic,)), config)
    started = {
        "metrics": metrics_rows.writeStream.queryName("metrics")
        .outputMode("append")
        .foreachBatch(metrics_sink or MetricsSink(settings, config))
        .option("checkpointLocation", str(config.checkpoints / "metrics"))
        .trigger(**trigger)
        .start(),
    }
    started["ad_counters"] = (
        ads.writeStream.queryName("ad_counters")
        .outputMode("append")
        .foreachBatch(counter_sink or AdCounterSink(settings, config))
        .option("checkpointLocation", str(config.checkpoints / "ad_counters"))
        .trigger(**trigger)
        .start()
    )
    return started


# ---- heartbeat -----------------------------------------------------------------------------


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


def late_rows(progress: dict[str, Any]) -> int:
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
                "late_events_total": int(previous.get(name, {}).get("late_events_total", 0)),
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
        state["late_events_total"] += late_rows(progress)
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
            {"pid": os.getpid(), "status": self.status, "updated_at": _now(), "queries": self.queries},
        )


def run(
    settings: Settings, config: StreamConfig, spark: SparkSession | None = None, poll: float = 0.5
) -> dict[str, Any]:
    """Run the job until stopped (SIGTERM/SIGINT) or, with `available_now`, until Kafka is
    drained; returns the final heartbeat. Raises when a query fails (the supervisor restarts)."""
    from spark_jobs.session import spark_session

    counter_sink = AdCounterSink(settings, config)
    counters.ping(counter_sink.client)  # no Redis: fail now, not at the first ad-events batch
    config.home.mkdir(parents=True, exist_ok=True)
    config.pid_file.write_text(str(os.getpid()))
    own_session = spark is None
    spark = spark or spark_session(settings, app_name="watershed-stream", **STATE_STORE_CONF)
    stop = threading.Event()
    if own_session and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    heartbeat = Heartbeat(config)
    sink = MetricsSink(settings, config)
    queries = start_queries(spark, settings, config, sink, counter_sink)
    heartbeat.write("running")
    written = time.monotonic()
    try:
        while not stop.is_set():
            changed = False
            for name, query in queries.items():
                for progress in new_progress(query, heartbeat.queries[name]["last_batch_id"]):
                    changed |= heartbeat.observe(name, progress)
            if changed or time.monotonic() - written > HEARTBEAT_EVERY:  # alive even when idle
                heartbeat.write()
                written = time.monotonic()
            failed = [q for q in queries.values() if q.exception() is not None]
            if failed:
                heartbeat.write("failed")
                raise RuntimeError(f"streaming query {failed[0].name} failed: {failed[0].exception()}")
            if all(not q.isActive for q in queries.values()):
                break
            stop.wait(poll)
    finally:
        for query in queries.values():
            if query.isActive:
                query.stop()
        for name, query in queries.items():
            for progress in new_progress(query, heartbeat.queries[name]["last_batch_id"]):
                heartbeat.observe(name, progress)
        if heartbeat.status != "failed":
            heartbeat.write("stopped")
        sink.close()
        counter_sink.close()
        config.pid_file.unlink(missing_ok=True)
        if own_session:
            spark.stop()
    return read_json(config.heartbeat)


# RocksDB keeps streaming state off the JVM heap: the (window, user) state of a busy shop would
# otherwise grow the driver's heap with every user. With changelog checkpointing a micro-batch's
# commit writes only the keys it changed, instead of uploading RocksDB's files to the checkpoint
# (bench/streaming.py, 2 minutes at 10k events/s: state commits 1.2 s per batch, 3.8 s without).
STATE_STORE_CONF = {
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
}
