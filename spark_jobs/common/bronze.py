"""Kafka records -> bronze rows: the raw value kept, the contract's columns parsed, lineage added,
the event-time partition chosen and late arrivals flagged."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.lake_rules import LandingRules, TimeRules
from spark_jobs.common.time_columns import instant, micros, span
from watershed.contract.tables import spark_schema

# Parse errors, also used as quarantine reasons.
UNPARSEABLE_JSON = "unparseable_json"  # the value is not a JSON object
MALFORMED_FIELD = "malformed_field"  # a JSON object, but a field does not have the contract's type:
# "malformed_field:<name>" names the first such field (present in the JSON, null once parsed)

_CORRUPT = "_corrupt_record"

LINEAGE_FIELDS = (
    T.StructField("kafka_topic", T.StringType()),
    T.StructField("kafka_partition", T.IntegerType()),
    T.StructField("kafka_offset", T.LongType()),
    T.StructField("kafka_timestamp", T.TimestampType()),
    T.StructField("kafka_key", T.StringType()),
    T.StructField("kafka_value", T.StringType()),
    T.StructField("ingested_at", T.TimestampType()),
    T.StructField("parse_error", T.StringType()),
    T.StructField("is_late", T.BooleanType()),
)
# Bronze folders are dt=YYYY-MM-DD/hour=HH of the event time (see partition_time).
PARTITION_FIELDS = (T.StructField("dt", T.DateType()), T.StructField("hour", T.IntegerType()))


def bronze_schema() -> T.StructType:
    """Every bronze column: the contract's event columns, lineage, then the partition columns."""
    return T.StructType([*spark_schema("events").fields, *LINEAGE_FIELDS, *PARTITION_FIELDS])


def reference_time() -> Column:
    """When the platform received the event: the collector's received_at, else the Kafka timestamp."""
    return F.coalesce(F.col("received_at"), F.col("kafka_timestamp"))


def believable_time(rules: TimeRules) -> Column:
    """occurred_at is set, after `rules.earliest`, at most max_event_age before and at most
    max_clock_skew after the reference time (the validation rules, as one condition)."""
    occurred, ref = micros("occurred_at"), micros(reference_time())
    return (
        F.col("occurred_at").isNotNull()
        & (occurred >= F.lit(instant(rules.earliest)))
        & (occurred >= ref - F.lit(span(rules.max_event_age)))
        & (occurred <= ref + F.lit(span(rules.max_clock_skew)))
    )


def partition_time(rules: TimeRules) -> Column:
    """The time that picks a row's dt=/hour= folder: occurred_at when believable, else the time it
    was received (so a 1970 clock or garbage lands where and when it arrived, to be quarantined
    by the batch job that owns that day)."""
    return F.when(believable_time(rules), F.col("occurred_at")).otherwise(reference_time())


def to_bronze(kafka: DataFrame, ingested_at: datetime, rules: LandingRules) -> DataFrame:
    """Kafka source rows (key, value, topic, partition, offset, timestamp) -> bronze rows.

    `ingested_at` is the landing batch's time (given, not read from a clock, so a replayed batch
    writes the same rows). A row is late when it was received more than `rules.late_after` after
    it occurred and its event time is believable (the contract's definition of late).
    """
    parse_schema = T.StructType([*spark_schema("events").fields, T.StructField(_CORRUPT, T.StringType())])
    value = F.col("value").cast("string")
    parsed = kafka.select(
        F.from_json(value, parse_schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}).alias("e"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").cast("int").alias("kafka_partition"),
        F.col("offset").cast("long").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").cast("string").alias("kafka_key"),
        value.alias("kafka_value"),
    )
    is_object = F.json_object_keys("kafka_value").isNotNull()
    blamed = [
        F.when(F.get_json_object("kafka_value", f"$.{f.name}").isNotNull() & F.col(f"e.{f.name}").isNull(),
               F.lit(f"{MALFORMED_FIELD}:{f.name}"))
        for f in spark_schema("events").fields
    ]  # fmt: skip
    parse_error = (
        F.when(~is_object | F.col("e").isNull(), F.lit(UNPARSEABLE_JSON))
        .when(F.col(f"e.{_CORRUPT}").isNotNull(), F.coalesce(*blamed, F.lit(MALFORMED_FIELD)))
        .otherwise(F.lit(None).cast("string"))
    )
    event_columns = [F.col(f"e.{f.name}").alias(f.name) for f in spark_schema("events").fields]
    rows = parsed.select(
        *event_columns,
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "kafka_key",
        "kafka_value",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        parse_error.alias("parse_error"),
    )
    at = partition_time(rules.time)
    lag = micros(reference_time()) - micros("occurred_at")
    late = F.coalesce(believable_time(rules.time) & (lag > F.lit(span(rules.late_after))), F.lit(False))
    return rows.select(
        "*",
        late.alias("is_late"),
        F.to_date(at).alias("dt"),
        F.hour(at).alias("hour"),
    )
