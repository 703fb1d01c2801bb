"""Deduplication by event_id: a retried event keeps its id; the copy received first is kept."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# "First received": earliest received_at (set by the collector on each receipt), then the Kafka
# lineage, which totally orders any remaining tie so the choice is the same on every run.
FIRST_RECEIVED = ("received_at", "kafka_timestamp", "kafka_topic", "kafka_partition", "kafka_offset")


def deduplicate(events: DataFrame) -> DataFrame:
    """One row per event_id: the first received copy."""
    order = [F.col(c).asc_nulls_last() for c in FIRST_RECEIVED]
    first = Window.partitionBy("event_id").orderBy(*order)
    return events.withColumn("_copy", F.row_number().over(first)).where(F.col("_copy") == 1).drop("_copy")
