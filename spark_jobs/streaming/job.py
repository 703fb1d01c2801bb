"""The real-time job: its two streaming queries and the driver loop (the outline; the parts
are in :mod:`~spark_jobs.streaming.sinks`, :mod:`~spark_jobs.streaming.alerting` and
:mod:`~spark_jobs.streaming.heartbeat`).

Two streaming queries share one SparkSession:

* ``metrics``: the three source topics -> parse -> watermark on occurred_at -> drop duplicate
  event_ids within the watermark -> (window, user) aggregation in append mode -> foreachBatch
  :class:`~spark_jobs.streaming.sinks.MetricsSink` (window metrics to the `real-time-metrics`
  topic and the lake table, then :class:`~spark_jobs.streaming.alerting.Alerting`: anomaly rules
  against the previous window, alerts to the `alerts` topic and the webhooks);
* ``ad_counters``: the ad-events topic -> parse -> watermark -> dedup -> foreachBatch
  :class:`~spark_jobs.streaming.sinks.AdCounterSink` (per-campaign increments into the Redis
  counter store, exactly once).

Both resume from their checkpoints. The driver loop (:func:`run`) writes a heartbeat file after
every micro-batch (progress, Kafka end offsets, watermark, events dropped as later than the
watermark) that `watershed stream status` and the Airflow supervision task read.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from spark_jobs.streaming import counters
from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.heartbeat import HEARTBEAT_EVERY, Heartbeat, new_progress
from spark_jobs.streaming.sinks import AdCounterSink, MetricsSink
from spark_jobs.streaming.state import read_json
from spark_jobs.streaming.transforms import is_valid, parse_events, user_windows
from watershed.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery


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
    metrics_rows = user_windows(events, config.window, settings.late_after_seconds)
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
    spark = spark or spark_session(
        settings, app_name="watershed-stream", **STATE_STORE_CONF, **metrics_conf(settings.realtime_ui_port)
    )
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
def metrics_conf(ui_port: int) -> dict[str, str]:
    """Spark's own Prometheus endpoints on the job's UI port (loopback locally): the driver's
    metrics with the streaming queries' (PrometheusServlet, ``/metrics/prometheus``, names under
    the fixed namespace ``watershed_realtime`` instead of the application id) and the executors'
    (``/metrics/executors/prometheus``). Prometheus scrapes both as job ``spark-realtime`` and
    renames the streaming series (watershed/stack/monitoring.py: spark_streaming_*{query})."""
    return {
        "spark.ui.enabled": "true",
        "spark.ui.port": str(ui_port),
        "spark.port.maxRetries": "0",  # another job on the port: fail, do not serve elsewhere
        "spark.ui.prometheus.enabled": "true",
        "spark.sql.streaming.metricsEnabled": "true",
        "spark.metrics.namespace": "watershed_realtime",
        "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
    }


STATE_STORE_CONF = {
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
}
