"""Gold product interactions on a small inline silver frame, compared whole. (The funnel, daily
user metrics and daily revenue are dbt marts, tested in tests/warehouse.)"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.batch.transforms.gold import product_interactions

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
