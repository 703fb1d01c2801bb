"""The real-time job's sinks: what each micro-batch writes (the foreachBatch functions).

* :class:`MetricsSink` (the ``metrics`` query): finalized (window, user) rows in; one row per
  window out to the lake table (Parquet, one ``batch_id=N/`` folder per batch) and the
  `real-time-metrics` topic (key = window start); then the windows go to
  :class:`~spark_jobs.streaming.alerting.Alerting`, which publishes through the same producer;
* :class:`AdCounterSink` (the ``ad_counters`` query): per-campaign increments into the Redis
  counter store (:mod:`~spark_jobs.streaming.counters`), exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from spark_jobs.streaming import anomaly_rules, counters
from spark_jobs.streaming.alerting import Alerting
from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.state import now
from spark_jobs.streaming.transforms import METRIC_COLUMNS, ad_counter_deltas, window_metrics
from watershed.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def _utc(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


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
        self.alerting = Alerting(config, self._produce)

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
        emitted = now()
        records = [(w.to_json()["window_start"], {**w.to_json(), "batch_id": batch_id, "emitted_at": emitted})
                   for w in windows]  # fmt: skip
        self._produce(self.config.metrics_topic, records)
        self.alerting(windows, batch_id)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
            self._producer = None

    def _produce(self, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
        if self._producer is None:
            self._producer = _producer(self.settings)
        _produce_all(self._producer, topic, records)


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
        counters.apply(self.client, self.config.counters_key, "ad_counters", batch_id, deltas, now())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
