"""Generated traffic (with every fault kind) through the real broker, landing, sessionize and gold:
sessions, the funnel counts and revenue they carry, and gold's product views equal the generator's
ground truth exactly. (The funnel and revenue marts are dbt's: tests/warehouse/test_ground_truth.py
compares them with the truth.)"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow.parquet as pq
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from simulator import FaultRates, GeneratorConfig, KafkaSink, generate
from spark_jobs.batch.jobs.gold import run_gold
from spark_jobs.batch.jobs.sessionize import run_sessionize
from spark_jobs.landing.job import TOPICS, run_landing
from watershed import lake

START, DAYS = date(2025, 1, 6), 2
FAULTS = FaultRates(duplicate=0.02, late=0.02, out_of_order=0.02, malformed=0.02, bot=0.05, pii=0.01)


def test_generated_events_through_kafka_land_and_sessionize_to_the_ground_truth(
    spark, kafka_io, kafka_bootstrap, lake_settings, tmp_path
):
    start = kafka_io.end_offsets(TOPICS)
    config = GeneratorConfig(seed=5, start_date=START, days=DAYS, events=4000, faults=FAULTS)
    summary = generate(config, tmp_path / "sim", KafkaSink(kafka_bootstrap))
    truth = tmp_path / "sim" / "truth"

    landing = run_landing(spark, lake_settings, starting_offsets=start)
    # every record sent landed once
    assert landing["rows"] == summary["rows"]
    assert landing["rows_by_topic"] == summary["delivery"]["topics"]
    window = [START + timedelta(days=i) for i in range(DAYS)]
    # malformed events with a broken clock land (and are quarantined) on the day they arrived,
    # which can be the day after the window
    reports = [run_sessionize(spark, lake_settings, day) for day in [*window, window[-1] + timedelta(days=1)]]
    for day in window:
        run_gold(spark, lake_settings, day)

    def read(*parts: str):  # type: ignore[no-untyped-def]
        return spark.read.parquet(lake.path(lake_settings, *parts))

    def expected(name: str, schema):  # type: ignore[no-untyped-def]
        return spark.createDataFrame(pq.read_table(truth / f"{name}.parquet").to_pylist(), schema)

    # sessions, every column the truth has
    sessions = read("silver", "sessions").select(
        "session_id",
        "user_key",
        F.col("dt").alias("session_date"),
        F.col("session_start").alias("started_at"),
        F.col("session_end").alias("ended_at"),
        "event_count",
        "is_bot",
        "page_views",
        "product_views",
        "add_to_carts",
        "begin_checkouts",
        "purchases",
        "revenue",
    )
    truth_sessions = pq.read_table(truth / "sessions.parquet").drop(["first_event_id"]).to_pylist()
    assertDataFrameEqual(sessions, spark.createDataFrame(truth_sessions, sessions.schema))

    # funnel: silver sessions per day and bot flag reaching each step (at least one event of it)
    # against the truth; the conversion_funnel mart counts them from these sessions
    # (tests/warehouse/test_ground_truth.py compares the mart with the truth too)
    steps = ("product_view", "add_to_cart", "begin_checkout", "purchase")
    names = ["sessions", *(f"sessions_with_{s}" for s in steps)]
    funnel = (
        read("silver", "sessions")
        .groupBy(F.col("dt").alias("date"), "is_bot")
        .agg(
            F.count(F.lit(1)).alias("sessions"),
            *[F.count(F.when(F.col(f"{s}s") > 0, 1)).alias(f"sessions_with_{s}") for s in steps],
        )
    )
    truth_funnel = expected("funnel_daily", None).select("date", "is_bot", *names).where(F.col("sessions") > 0)
    assertDataFrameEqual(
        funnel, truth_funnel.select(*[F.col(c).cast(funnel.schema[c].dataType) for c in funnel.columns])
    )

    # revenue by the day the orders and refunds occurred, from silver events (each valid,
    # deduplicated transaction once, in whichever day's partition its session put it); the
    # daily_revenue mart sums the same events
    transactions = read("silver", "events").where(F.col("event_type").isin("purchase", "refund"))
    purchase, refund = F.col("event_type") == "purchase", F.col("event_type") == "refund"
    revenue = transactions.groupBy(F.to_date("occurred_at").alias("date")).agg(
        F.count(F.when(purchase, 1)).alias("orders"),
        F.sum(F.when(purchase, F.col("revenue"))).cast("decimal(18,2)").alias("revenue"),
        F.count(F.when(refund, 1)).alias("refunds"),
        F.coalesce(F.sum(F.when(refund, F.col("revenue"))), F.lit(0)).cast("decimal(18,2)").alias("refunded"),
    )
    assertDataFrameEqual(revenue, expected("revenue_daily", revenue.schema))

    # product views per day equal the truth's product_view events (bots included)
    views = read("gold", "product_interactions").groupBy(F.col("dt").alias("date")).agg(F.sum("views").alias("n"))
    truth_views = expected("funnel_daily", None).groupBy("date").agg(F.sum("product_view_events").alias("n"))
    assertDataFrameEqual(views, truth_views.select("date", F.col("n").cast("long")))

    # every malformed event is quarantined, every duplicate copy removed, nothing else
    faults = pq.read_table(truth / "faults.parquet").to_pylist()
    kinds = [f["kind"] for f in faults]
    assert sum(r["quarantined"] for r in reports) == kinds.count("malformed")
    assert sum(r["duplicates_removed"] for r in reports) == kinds.count("duplicate")
    assert landing["late"] > 0 and landing["unparseable"] > 0
