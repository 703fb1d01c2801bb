"""Gold: daily aggregates of silver.

* :func:`product_interactions`: per product, the events that occurred on the day: views
  (product_view), add_to_carts, purchases (purchase events with the product among their items),
  units_purchased, revenue (sum of quantity x unit price of those items) and the view-to-cart and
  cart-to-purchase rates (null when the denominator is 0).
* :func:`funnel`: per device (of the session; ``unknown`` when no event says) and bot flag, the
  sessions of the day at each step: every session, then those with a product_view, an
  add_to_cart, a begin_checkout and a purchase. A session counts at a step when it has at least
  one event of that step (the generator's ground truth counts the same way; a visit split by a
  long pause can buy in a session without a product view). step_rate is the share of the
  previous step, overall_rate the share of all sessions (null when there is none).
* :func:`daily_revenue`: orders, revenue, refunds and refunded of the events that occurred on
  the day (by event time, unlike the session-day tables).
* :func:`daily_user_metrics`: per user_key, the day's sessions summed.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

FUNNEL_STEPS: tuple[str, ...] = ("session", "product_view", "add_to_cart", "begin_checkout", "purchase")
UNKNOWN_DEVICE = "unknown"


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


def funnel(sessions: DataFrame) -> DataFrame:
    """Silver sessions of one day -> (device, is_bot, step_number, step, sessions, step_rate,
    overall_rate): per device and bot flag, the sessions that reached each step."""
    device = F.coalesce("device", F.lit(UNKNOWN_DEVICE)).alias("device")
    counts = sessions.groupBy(device, "is_bot").agg(
        F.count(F.lit(1)).alias("session"),
        *[F.count(F.when(F.col(f"{step}s") > 0, 1)).alias(step) for step in FUNNEL_STEPS[1:]],
    )
    steps = F.array(
        *[
            F.struct(
                F.lit(i + 1).alias("step_number"),
                F.lit(step).alias("step"),
                F.col(step).alias("sessions"),
                F.col(FUNNEL_STEPS[max(i - 1, 0)]).alias("previous"),
            )
            for i, step in enumerate(FUNNEL_STEPS)
        ]
    )
    long = counts.select("device", "is_bot", "session", F.explode(steps).alias("s"))
    return long.select(
        "device",
        "is_bot",
        "s.step_number",
        "s.step",
        "s.sessions",
        _rate("s.sessions", "s.previous").alias("step_rate"),
        _rate("s.sessions", "session").alias("overall_rate"),
    )


def daily_revenue(events: DataFrame, day: date) -> DataFrame:
    """Silver events (any that may have occurred on `day`) -> one row: orders and revenue of the
    purchases, refunds and the amount refunded, that occurred on `day`."""
    on_day = events.where(F.to_date("occurred_at") == F.lit(day))
    purchase, refund = F.col("event_type") == "purchase", F.col("event_type") == "refund"
    zero = F.lit(0).cast("decimal(18,2)")
    return on_day.agg(
        F.count(F.when(purchase, 1)).alias("orders"),
        F.coalesce(F.sum(F.when(purchase, F.col("revenue"))), zero).cast("decimal(18,2)").alias("revenue"),
        F.count(F.when(refund, 1)).alias("refunds"),
        F.coalesce(F.sum(F.when(refund, F.col("revenue"))), zero).cast("decimal(18,2)").alias("refunded"),
    )


def daily_user_metrics(sessions: DataFrame) -> DataFrame:
    """Silver sessions of one day -> one row per user_key."""
    return sessions.groupBy("user_key").agg(
        F.max("user_id").alias("user_id"),
        F.count(F.lit(1)).alias("sessions"),
        F.sum("event_count").alias("events"),
        F.sum("page_views").alias("page_views"),
        F.sum("add_to_carts").alias("add_to_carts"),
        F.sum("purchases").alias("purchases"),
        F.sum("revenue").cast("decimal(18,2)").alias("revenue"),
        F.sum("duration_seconds").alias("total_duration_seconds"),
        F.count(F.when(F.col("is_bounce"), 1)).alias("bounces"),
        F.min("session_start").alias("first_session_start"),
    )
