"""Pure DataFrame -> DataFrame transforms of the real-time job (no sources, sinks or paths).

The window metrics are computed in two steps so that every figure is exact, including unique
users (Spark streaming has no exact distinct count):

1. :func:`user_windows` (streaming, stateful): one row per (window, user key) with the user's
   events, purchases, revenue and first/last session event in the window. In append mode Spark
   emits all rows of a window together, once the watermark has passed the window's end.
2. :func:`window_metrics` (per micro-batch, over those finalized rows): one row per window.

Definitions (docs/streaming.md):

* total_events: every deduplicated event of the three source topics;
* unique_users: distinct ``coalesce(user_id, anonymous_id)``;
* purchases / revenue: count and ``sum(revenue)`` of ``purchase`` events (refunds excluded);
* site_users: users with an event of the site or the shop (not an ad-platform event);
* late_events: events received more than ``late_after`` after they occurred (the contract's one
  definition of late, :data:`watershed.contract.semantics.LATE_AFTER`; ``received_at``, else the
  Kafka timestamp). Late events that still arrive within the watermark are counted in their
  window; those behind it are dropped by Spark and counted in the heartbeat instead;
* buyer_share: users with a purchase / site_users (docs/metrics.md: the stream has no sessions,
  so it has no conversion_rate);
* avg_session_duration_s: mean, over users with at least one session event
  (:data:`watershed.contract.SESSION_EVENT_TYPES`) in the window, of last - first such event,
  in seconds: the visit time seen inside the window (sessions crossing a window boundary are cut;
  the batch sessionization in the lake is the reference for whole sessions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from watershed.contract import EVENT_MODELS, SESSION_EVENT_TYPES, Family, spark_schema
from watershed.contract.semantics import LATE_AFTER

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

# The contract's fields the job reads from each JSON event.
PAYLOAD_FIELDS = (
    "event_id",
    "event_type",
    "user_id",
    "anonymous_id",
    "occurred_at",
    "received_at",
    "revenue",
    "campaign_id",
    "platform",
    "cost",
    "value",
)
REVENUE = T.DecimalType(18, 2)
METRIC_COLUMNS = (
    "window_start",
    "window_end",
    "total_events",
    "unique_users",
    "purchases",
    "revenue",
    "purchasing_users",
    "site_users",
    "late_events",
    "buyer_share",
    "avg_session_duration_s",
)
# Ad-platform events carry the anonymous id of whoever saw the ad; they are not visits to the site.
AD_EVENT_TYPES = tuple(t for t, model in EVENT_MODELS.items() if model.family is Family.AD_EVENTS)
COUNTER_COLUMNS = ("campaign_id", "day", "impressions", "clicks", "conversions", "cost", "revenue")


def payload_schema() -> StructType:
    """The subset of the contract's event schema the job parses (types come from the contract)."""
    fields = {f.name: f for f in spark_schema("events").fields}
    return T.StructType([fields[name] for name in PAYLOAD_FIELDS])


def parse_events(raw: DataFrame) -> DataFrame:
    """Kafka records (value bytes, topic, partition, offset, timestamp) -> one row per event.

    Records that are not JSON events with an id and an event time get ``event_id`` null and are
    kept apart by :func:`valid_events` (the collector validates before Kafka, so none are
    expected; they are counted by the job, never silently dropped)."""
    parsed = F.from_json(F.col("value").cast("string"), payload_schema())
    return raw.select(
        parsed.alias("e"),
        F.col("topic").alias("kafka_topic"),
        F.col("timestamp").alias("kafka_timestamp"),
    ).select("e.*", "kafka_topic", "kafka_timestamp")


def is_valid(events: DataFrame) -> Column:
    return F.col("event_id").isNotNull() & F.col("occurred_at").isNotNull() & F.col("event_type").isNotNull()


def user_key() -> Column:
    return F.coalesce(F.col("user_id"), F.col("anonymous_id"))


def user_windows(events: DataFrame, window: str, late_after_seconds: float = LATE_AFTER.total_seconds()) -> DataFrame:
    """One row per (tumbling event-time window, user key): the first aggregation step."""
    purchase = F.col("event_type") == "purchase"
    received = F.coalesce(F.col("received_at"), F.col("kafka_timestamp"))
    lag_us = F.unix_micros(received) - F.unix_micros(F.col("occurred_at"))
    late = F.coalesce(lag_us > F.lit(round(late_after_seconds * 1_000_000)), F.lit(False))
    session_at = F.when(F.col("event_type").isin(*SESSION_EVENT_TYPES), F.col("occurred_at"))
    return events.groupBy(F.window("occurred_at", window).alias("window"), user_key().alias("user_key")).agg(
        F.count(F.lit(1)).alias("events"),
        F.sum((~F.col("event_type").isin(*AD_EVENT_TYPES)).cast("long")).alias("site_events"),
        F.sum(purchase.cast("long")).alias("purchases"),
        F.sum(F.when(purchase, F.col("revenue"))).alias("revenue"),
        F.sum(late.cast("long")).alias("late_events"),
        F.min(session_at).alias("first_session_at"),
        F.max(session_at).alias("last_session_at"),
    )


def window_metrics(user_rows: DataFrame) -> DataFrame:
    """Finalized (window, user) rows -> one metrics row per window (the second step)."""
    duration = F.unix_micros("last_session_at") - F.unix_micros("first_session_at")
    per_window = user_rows.groupBy(
        F.col("window.start").alias("window_start"), F.col("window.end").alias("window_end")
    ).agg(
        F.sum("events").cast("long").alias("total_events"),
        F.count("user_key").alias("unique_users"),
        F.sum("purchases").cast("long").alias("purchases"),
        F.coalesce(F.sum("revenue"), F.lit(0)).cast(REVENUE).alias("revenue"),
        F.count(F.when((F.col("purchases") > 0) & F.col("user_key").isNotNull(), True)).alias("purchasing_users"),
        F.count(F.when((F.col("site_events") > 0) & F.col("user_key").isNotNull(), True)).alias("site_users"),
        F.sum("late_events").cast("long").alias("late_events"),
        (F.avg(duration) / F.lit(1_000_000)).alias("avg_session_duration_s"),
    )
    share = F.when(F.col("site_users") > 0, F.col("purchasing_users") / F.col("site_users")).otherwise(F.lit(0.0))
    return per_window.withColumn("buyer_share", share).select(*METRIC_COLUMNS)


def ad_counter_deltas(ad_events: DataFrame) -> DataFrame:
    """One micro-batch of (deduplicated) ad events -> per-(campaign, day) increments; the day is
    the UTC date the event occurred on (the session time zone is UTC), as in the batch marts."""
    kind = F.col("event_type")
    return (
        ad_events.where(F.col("campaign_id").isNotNull())
        .groupBy("campaign_id", F.date_format("occurred_at", "yyyy-MM-dd").alias("day"))
        .agg(
            F.sum((kind == "impression").cast("long")).alias("impressions"),
            F.sum((kind == "click").cast("long")).alias("clicks"),
            F.sum((kind == "conversion").cast("long")).alias("conversions"),
            F.coalesce(F.sum(F.when(kind.isin("impression", "click"), F.col("cost"))), F.lit(0))
            .cast(T.DecimalType(24, 6))
            .alias("cost"),
            F.coalesce(F.sum(F.when(kind == "conversion", F.col("value"))), F.lit(0))
            .cast(T.DecimalType(24, 2))
            .alias("revenue"),
        )
        .select(*COUNTER_COLUMNS)
    )
