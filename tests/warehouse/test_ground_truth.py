"""The whole batch path on generated traffic: generator -> bronze (the landing writer, fed the
records the collector would have put on Kafka) -> Spark sessionize and gold per day -> warehouse
load -> dbt build. The marts must equal the generator's ground truth exactly: every session,
daily revenue per currency, orders, the funnel counts and every user's day. (The marts own these
aggregates; the lake computes no copy of them to compare with.) The raw tables must also have
exactly the columns the Spark jobs write."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from simulator import FaultRates, GeneratorConfig, simulate
from watershed.contract.fields import SHOP_CURRENCY

CONFIG = GeneratorConfig(
    seed=23,
    days=2,
    events=6_000,
    faults=FaultRates(duplicate=0.02, late=0.02, out_of_order=0.02, malformed=0.01, bot=0.03, pii=0.01),
)
DAYS = [CONFIG.start_date + timedelta(days=i) for i in range(CONFIG.days)]


def kafka_records(spark: Any, simulation: Any) -> Any:
    """The Kafka records the collector would have produced: JSON values, keyed by user."""
    from simulator.sinks import topics
    from simulator.wire import dumps, payloads

    events, event_types = simulation.events.table(), simulation.events.event_types
    offsets: dict[str, int] = defaultdict(int)
    received = events["received_at"].to_pylist()
    rows = []
    for payload, topic, at in zip(payloads(events, received_at=True), topics(event_types), received, strict=True):
        key = payload.get("user_id") or payload.get("anonymous_id")
        rows.append((None if key is None else str(key).encode(), dumps(payload), topic, 0, offsets[topic], at))
        offsets[topic] += 1
    schema = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    return spark.createDataFrame(rows, schema)


@pytest.fixture(scope="module")
def pipeline(spark, stack_settings, warehouse_factory):  # type: ignore[no-untyped-def]
    from spark_jobs.batch.jobs.gold import run_gold
    from spark_jobs.batch.jobs.sessionize import run_sessionize
    from spark_jobs.landing.job import BronzeBatchWriter, LandingPaths

    wh = warehouse_factory("ground-truth")
    settings = stack_settings.model_copy(
        update={"lake_uri": str(wh.lake), "duckdb_path": wh.settings.duckdb_file, "state_dir": wh.root}
    )
    wh.settings = settings
    simulation = simulate(CONFIG)
    writer = BronzeBatchWriter(LandingPaths.of(settings), clock=lambda: datetime(2025, 1, 10, tzinfo=UTC))
    writer(kafka_records(spark, simulation), 0)
    for day in DAYS:
        run_sessionize(spark, settings, day)
        run_gold(spark, settings, day)
    for day in DAYS:
        wh.load(day)
    output = wh.build()
    return wh, simulation.truth, output


def _naive(value: Any) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value


def test_dbt_build_is_green_on_generated_traffic(pipeline):
    _, _, output = pipeline
    done = [line for line in output.splitlines() if "Done. PASS=" in line][-1]
    assert "WARN=0 ERROR=0 SKIP=0" in done


def test_every_session_equals_the_truth(pipeline):
    wh, truth, _ = pipeline
    columns = ["session_id", "user_key", "session_date", "started_at", "ended_at", "event_count", "is_bot",
               "page_views", "product_views", "add_to_carts", "begin_checkouts", "purchases", "revenue"]  # fmt: skip
    expected = sorted(tuple(_naive(r[c]) for c in columns) for r in truth.sessions.to_pylist())
    marts = wh.query(
        "select session_id, user_key, session_date, session_started_at, session_ended_at, event_count, is_bot, "
        "page_views, product_views, add_to_carts, begin_checkouts, purchases, revenue from marts.fct_sessions "
        "order by all"
    )
    assert len(expected) > 500
    assert marts == expected


def test_daily_revenue_and_orders_equal_the_truth(pipeline):
    wh, truth, _ = pipeline
    # the generator sells in the shop's one currency: one row per day, in it
    expected = [
        (r["date"], SHOP_CURRENCY if r["orders"] or r["refunds"] else None, r["orders"], r["revenue"], r["refunds"],
         r["refunded"])
        for r in truth.revenue_daily.to_pylist()
    ]  # fmt: skip
    assert (
        wh.query(
            "select revenue_date, currency, orders, revenue, refunds, refunded from marts.daily_revenue order by 1, 2"
        )
        == expected
    )
    assert sum(r[2] for r in expected) > 10  # refunds are mostly later than two days: the small lake has one


def test_funnel_counts_equal_the_truth(pipeline):
    wh, truth, _ = pipeline
    steps = ("product_view", "add_to_cart", "begin_checkout", "purchase")
    expected = [
        (r["date"], r["is_bot"], r["sessions"], *(r[f"sessions_with_{s}"] for s in steps))
        for r in truth.funnel_daily.to_pylist()
        if r["sessions"]
    ]
    marts = wh.query(
        "select funnel_date, is_bot, sum(sessions), sum(product_view_sessions), sum(add_to_cart_sessions), "
        "sum(begin_checkout_sessions), sum(purchase_sessions) from marts.conversion_funnel group by all order by 1, 2"
    )
    assert marts == sorted(expected)


def test_every_users_day_equals_the_truth(pipeline):
    """agg_daily_user_metrics, row by row: each user's sessions of a day summed from the truth."""
    wh, truth, _ = pipeline
    per_user_day: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, Decimal("0.00")])
    for session in truth.sessions.to_pylist():
        row = per_user_day[(session["session_date"], session["user_key"])]
        row[0] += 1
        row[1] += session["event_count"]
        row[2] += session["page_views"]
        row[3] += session["purchases"]
        row[4] += session["revenue"]
    marts = wh.query(
        "select activity_date, user_key, sessions, total_events, page_views, purchases, total_revenue "
        "from marts.agg_daily_user_metrics order by all"
    )
    assert len(marts) > 100
    assert marts == [(*key, *v) for key, v in sorted(per_user_day.items())]


def test_the_raw_tables_have_the_columns_the_spark_jobs_write(pipeline):
    """tables.py declares the lake's columns; the real jobs' files must agree, name and type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from warehouse.tables import SHOP_TABLES

    wh, _, _ = pipeline

    def normal(t: pa.DataType) -> str:
        return "timestamp" if pa.types.is_timestamp(t) else str(t)

    for table in SHOP_TABLES:
        folder = wh.lake.joinpath(*table.lake_parts, f"dt={DAYS[0].isoformat()}")
        written = pq.read_schema(sorted(folder.glob("*.parquet"))[0])
        assert [(f.name, normal(f.type)) for f in written] == [(f.name, normal(f.type)) for f in table.schema()], (
            table.name
        )


def test_the_sessionize_reports_agree_with_the_warehouse(pipeline):
    wh, _, _ = pipeline
    for day in DAYS:
        report = json.loads((wh.lake / "_reports" / "sessionize" / f"dt={day.isoformat()}.json").read_text())
        rows = wh.query(f"select count(*) from raw.sessions where dt = date '{day}'")
        assert rows == [(report["silver_sessions"],)]


def _glossary_cases() -> list[Any]:
    from watershed.contract.metrics import METRICS

    return [pytest.param(m, id=m.name) for m in METRICS if m.reference]


@pytest.mark.parametrize("metric", _glossary_cases())
def test_each_glossary_metric_equals_its_reference_on_the_pipeline_warehouse(pipeline, metric):
    """docs/metrics.md's independent DuckDB computation of a metric (over marts.fct_sessions and
    marts.fct_user_events) equals the mart column that stores it, row for row by the mart's key."""
    wh, _, _ = pipeline
    assert metric.check and metric.keys, metric.name
    table, column = metric.check.split(".", 1)
    keys = ", ".join(metric.keys)
    stored = wh.query(f"select {keys}, {column} from marts.{table} order by all")
    reference = wh.query(f"select {keys}, value from ({metric.reference}) order by all")
    assert len(stored) >= len(DAYS), (metric.name, len(stored))
    by_key = {row[:-1]: row[-1] for row in reference}
    assert [row[:-1] for row in stored] == sorted(by_key), metric.name  # the same keys
    for *key, value in stored:
        expected = by_key[tuple(key)]
        if isinstance(value, float) and isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-12), (metric.name, key)
        elif isinstance(value, Decimal) and isinstance(expected, float):  # money averages: rounded to cents
            assert value == Decimal(expected).quantize(Decimal("0.01"), ROUND_HALF_UP), (metric.name, key)
        else:
            assert value == expected, (metric.name, key)


def test_ad_events_daily_equals_the_campaign_totals(pipeline):
    """The batch side of the live ad counters: every valid ad event, once, by its UTC day."""
    wh, truth, _ = pipeline
    expected = sorted(
        (r["date"], r["campaign_id"], r["platform"], r["impressions"], r["clicks"], r["conversions"],
         Decimal(r["cost"]).quantize(Decimal("0.000001")), Decimal(r["conversion_value"]).quantize(Decimal("0.01")))
        for r in truth.campaign_totals.to_pylist()
    )  # fmt: skip
    marts = wh.query(
        "select date_day, campaign_id, platform, impressions, clicks, conversions, cost, conversions_value "
        "from marts.ad_events_daily order by all"
    )
    assert len(expected) == 16  # (day, campaign) cells with ad events in this traffic
    assert marts == expected
