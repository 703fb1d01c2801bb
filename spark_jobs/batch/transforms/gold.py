"""Gold: the daily aggregate that only the lake computes.

* :func:`product_interactions`: per product, the events that occurred on the day: views
  (product_view), add_to_carts, purchases (purchase events with the product among their items),
  units_purchased, revenue (sum of quantity x unit price of those items) and the view-to-cart and
  cart-to-purchase rates (null when the denominator is 0). Revenue is summed as recorded: the
  shop sells in one currency, and the dbt test assert_summed_money_is_in_one_currency fails the
  build when a product's day would mix two.

The other daily aggregates (the conversion funnel, the daily user metrics, daily revenue) are
computed once, by the dbt marts (dbt/models/marts, docs/warehouse.md): the marts are what
warehouse users query, and a second copy here would only invite drift.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _rate(numerator: str, denominator: str) -> F.Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def product_interactions(events: DataFrame, day: date) -> DataFrame:
    """Silver events (any that may have occurred on `day`) -> one row per product."""
    on_day = events.where(F.to_date("occurred_at") == F.lit(day))
    zero_money = F.lit(0).cast("decimal(18,2)")
    touches = on_day.where(F.col("event_type").isin("product_view", "add_to_cart")).select(
        "product_id",
        (F.col("event_type") == "product_view").cast("long").alias("views"),
        (F.col("event_type") == "add_to_cart").cast("long").alias("add_to_carts"),
        F.lit(0).cast("long").alias("purchases"),
        F.lit(0).cast("long").alias("units_purchased"),
        zero_money.alias("revenue"),
    )
    lines = (
        on_day.where(F.col("event_type") == "purchase")
        .select(F.explode("items").alias("item"))
        .select(
            F.col("item.product_id").alias("product_id"),
            F.lit(0).cast("long").alias("views"),
            F.lit(0).cast("long").alias("add_to_carts"),
            F.lit(1).cast("long").alias("purchases"),
            F.col("item.quantity").alias("units_purchased"),
            (F.col("item.quantity") * F.col("item.price")).cast("decimal(18,2)").alias("revenue"),
        )
    )
    totals = (
        touches.unionByName(lines)
        .groupBy("product_id")
        .agg(
            F.sum("views").alias("views"),
            F.sum("add_to_carts").alias("add_to_carts"),
            F.sum("purchases").alias("purchases"),
            F.sum("units_purchased").alias("units_purchased"),
            F.sum("revenue").cast("decimal(18,2)").alias("revenue"),
        )
    )
    return totals.select(
        "*",
        _rate("add_to_carts", "views").alias("view_to_cart_rate"),
        _rate("purchases", "add_to_carts").alias("cart_to_purchase_rate"),
    )
