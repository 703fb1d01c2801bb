"""Gold aggregates on small inline silver frames, compared whole."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.batch.transforms.gold import daily_revenue, daily_user_metrics, funnel, product_interactions

DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
ITEM = "array<struct<product_id:string,quantity:bigint,price:decimal(18,2)>>"
EVENTS = f"event_type string, occurred_at timestamp, product_id string, revenue decimal(18,2), items {ITEM}"


def test_product_interactions_count_the_day_events_per_product(spark):
    events = spark.createDataFrame(
        [
            ("product_view", NOON, "p1", None, None),
            ("product_view", NOON, "p1", None, None),
            ("product_view", NOON, "p1", None, None),
            ("product_view", NOON, "p1", None, None),
            ("add_to_cart", NOON, "p1", None, None),
            ("add_to_cart", NOON, "p1", None, None),
            ("product_view", NOON, "p2", None, None),
            ("product_view", BEFORE, "p2", None, None),  # the day before: not counted
            ("purchase", NOON, None, Decimal("35.00"), [Row(product_id="p1", quantity=3, price=Decimal("10.00"))]),
            ("purchase", NOON, None, Decimal("5.00"), [Row(product_id="p3", quantity=1, price=Decimal("5.00"))]),
            ("page_view", NOON, None, None, None),
        ],
        EVENTS,
    )
    result = product_interactions(events, DAY)
    expected = [
        Row(product_id="p1", views=4, add_to_carts=2, purchases=1, units_purchased=3, revenue=Decimal("30.00"),
            view_to_cart_rate=0.5, cart_to_purchase_rate=0.5),
        Row(product_id="p2", views=1, add_to_carts=0, purchases=0, units_purchased=0, revenue=Decimal("0.00"),
            view_to_cart_rate=0.0, cart_to_purchase_rate=None),
        Row(product_id="p3", views=0, add_to_carts=0, purchases=1, units_purchased=1, revenue=Decimal("5.00"),
            view_to_cart_rate=None, cart_to_purchase_rate=None),
    ]  # fmt: skip
    assertDataFrameEqual(result, spark.createDataFrame(expected, result.schema))


def test_daily_revenue_sums_purchases_and_refunds_that_occurred_on_the_day(spark):
    events = spark.createDataFrame(
        [
            ("purchase", NOON, None, Decimal("35.00"), None),
            ("purchase", NOON, None, Decimal("5.10"), None),
            ("purchase", BEFORE, None, Decimal("99.00"), None),
            ("refund", NOON, None, Decimal("5.10"), None),
        ],
        EVENTS,
    )
    assertDataFrameEqual(
        daily_revenue(events, DAY),
        [Row(orders=2, revenue=Decimal("40.10"), refunds=1, refunded=Decimal("5.10"))],
    )


SESSIONS = (
    "user_key string, user_id string, session_start timestamp, device string, is_bot boolean, event_count bigint, "
    "page_views bigint, product_views bigint, add_to_carts bigint, begin_checkouts bigint, purchases bigint, "
    "revenue decimal(18,2), duration_seconds double, is_bounce boolean"
)


def session(user, device, bot, product_views, add_to_carts, checkouts, purchases, revenue="0.00"):  # type: ignore[no-untyped-def]
    events = 1 + product_views + add_to_carts + checkouts + purchases
    return (user, user, NOON, device, bot, events, 1, product_views, add_to_carts, checkouts, purchases,
            Decimal(revenue), 60.0 * (events - 1), events == 1)  # fmt: skip


def test_funnel_counts_sessions_reaching_each_step_per_device_and_bot_flag(spark):
    sessions = spark.createDataFrame(
        [
            session("u1", "mobile", False, 2, 1, 1, 1, "20.00"),
            session("u2", "mobile", False, 1, 1, 0, 0),
            session("u3", "mobile", False, 1, 0, 0, 0),
            session("u4", "mobile", False, 0, 0, 0, 0),
            session("u5", None, False, 0, 0, 1, 1, "10.00"),  # bought after a pause split the visit
            session("b1", "desktop", True, 3, 0, 0, 0),
        ],
        SESSIONS,
    )
    result = funnel(sessions)

    def steps(device, bot, counts):  # type: ignore[no-untyped-def]
        names = ("session", "product_view", "add_to_cart", "begin_checkout", "purchase")
        rows = []
        for i, (name, n) in enumerate(zip(names, counts, strict=True)):
            previous = counts[max(i - 1, 0)]
            rows.append(Row(device=device, is_bot=bot, step_number=i + 1, step=name, sessions=n,
                            step_rate=n / previous if previous else None, overall_rate=n / counts[0]))  # fmt: skip
        return rows

    expected = [
        *steps("mobile", False, (4, 3, 2, 1, 1)),
        *steps("unknown", False, (1, 0, 0, 1, 1)),
        *steps("desktop", True, (1, 1, 0, 0, 0)),
    ]
    assertDataFrameEqual(result, spark.createDataFrame(expected, result.schema))


def test_daily_user_metrics_sum_each_users_sessions(spark):
    sessions = spark.createDataFrame(
        [
            session("u1", "mobile", False, 2, 1, 1, 1, "20.00"),
            session("u1", "mobile", False, 0, 0, 0, 0),
            session("u2", "tablet", False, 1, 0, 0, 0),
        ],
        SESSIONS,
    )
    result = daily_user_metrics(sessions)
    expected = [
        Row(user_key="u1", user_id="u1", sessions=2, events=7, page_views=2, add_to_carts=1, purchases=1,
            revenue=Decimal("20.00"), total_duration_seconds=300.0, bounces=1, first_session_start=NOON),
        Row(user_key="u2", user_id="u2", sessions=1, events=2, page_views=1, add_to_carts=0, purchases=0,
            revenue=Decimal("0.00"), total_duration_seconds=60.0, bounces=0, first_session_start=NOON),
    ]  # fmt: skip
    assertDataFrameEqual(result, spark.createDataFrame(expected, result.schema))
