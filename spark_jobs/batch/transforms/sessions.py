"""Sessionization (the rule of watershed.contract.semantics, in Spark built-ins).

* Only events of ``rules.event_types`` form sessions; other events keep a null session_id.
* user_key = coalesce(user_id, anonymous_id): a visitor who signs in mid-visit changes key, so
  the visit splits in two sessions there (no identity stitching in silver).
* Order per user_key: (occurred_at, event_id), so equal timestamps are ordered by event_id and
  arrival order never matters (an out-of-order event is placed by its occurred_at).
* A new session starts when the gap to the previous event is strictly greater than ``rules.gap``
  (a gap of exactly 30:00 stays in the session), and at the first event of a UTC day when the
  visit (the run of events without such a gap) began two or more days earlier: a session crosses
  at most one midnight, so it ends before the second midnight after its day.
* session_start is the first event's occurred_at; the session belongs to that UTC day.
* session_id = first 32 hex characters of sha256(user_key || '|' || first event_id).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.common.lake_rules import SessionRules
from spark_jobs.common.time_columns import micros, span
from watershed.contract.semantics import BOT_USER_AGENT_PATTERN


def user_key() -> Column:
    return F.coalesce(F.col("user_id"), F.col("anonymous_id"))


def is_bot() -> Column:
    """The contract's bot rule on user_agent (a missing agent is not a bot)."""
    return F.coalesce(F.lower(F.col("user_agent")).rlike(BOT_USER_AGENT_PATTERN), F.lit(False))


def session_id(key: Column, first_event_id: Column) -> Column:
    return F.substring(F.sha2(F.concat(key, F.lit("|"), first_event_id), 256), 1, 32)


def sessionize(events: DataFrame, rules: SessionRules) -> DataFrame:
    """Events plus is_bot, user_key, session_id and session_start (the last two null for
    non-session event types)."""
    keyed = events.withColumn("user_key", user_key())
    in_session = F.col("event_type").isin(list(rules.event_types))
    visits = keyed.where(in_session)
    order = Window.partitionBy("user_key").orderBy("occurred_at", "event_id")
    running = order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    previous = F.lag("occurred_at").over(order)
    new_visit = previous.isNull() | (micros("occurred_at") - micros(previous) > F.lit(span(rules.gap)))
    # The bot rule is a regular expression, costly per row; a user's agent rarely changes, so it is
    # evaluated where the agent differs from the previous event's and the verdict carried forward.
    changed = ~F.lag("user_agent").over(order).eqNullSafe(F.col("user_agent"))
    visits = visits.withColumns({"_previous": previous, "_new_visit": new_visit, "_verdict": F.when(changed, is_bot())})
    # the longest session: a visit that has gone on since before the previous midnight starts a
    # new session at its first event of the day
    day = F.to_date("occurred_at")
    visit_day = F.to_date(F.last(F.when(F.col("_new_visit"), F.col("occurred_at")), ignorenulls=True).over(running))
    next_day = (day > F.to_date("_previous")) & (F.datediff(day, visit_day) >= 2)
    visits = visits.withColumn("_starts", F.col("_new_visit") | next_day)
    # session_id is hashed at each session's first event (not at every event) and carried forward
    first_id = session_id(F.col("user_key"), F.col("event_id"))
    visits = visits.withColumns(
        {
            "is_bot": F.coalesce(F.last("_verdict", ignorenulls=True).over(running), F.lit(False)),
            "session_id": F.last(F.when(F.col("_starts"), first_id), ignorenulls=True).over(running),
            "session_start": F.last(F.when(F.col("_starts"), F.col("occurred_at")), ignorenulls=True).over(running),
        }
    ).drop("_previous", "_new_visit", "_starts", "_verdict")
    others = keyed.where(~in_session).withColumns(
        {"is_bot": is_bot(), "session_id": F.lit(None).cast("string"), "session_start": F.lit(None).cast("timestamp")}
    )
    return visits.unionByName(others)


def events_of_day(sessionized: DataFrame, day: date) -> DataFrame:
    """The events a day owns: those of sessions that start on `day` (with their continuation past
    midnight) and the sessionless events that occurred on `day`."""
    start_day = F.to_date("session_start") == F.lit(day)
    own_day = F.col("session_id").isNull() & (F.to_date("occurred_at") == F.lit(day))
    return sessionized.where(start_day | own_day)


def _first(value: str, order: list[str], *, last: bool = False) -> Column:
    """The first (or last) non-null `value` in the session's event order."""
    key = F.when(F.col(value).isNotNull(), F.struct(*order))
    return (F.max_by if last else F.min_by)(F.col(value), key)


def _count(event_type: str) -> Column:
    return F.count(F.when(F.col("event_type") == event_type, 1))


def sessions(sessionized: DataFrame) -> DataFrame:
    """One row per session of the events `sessionize` returned (sessionless events are ignored).

    event_count counts the session's events; unique_pages the distinct page_url values;
    page_views, product_views, add_to_carts, begin_checkouts and purchases count events of those
    types; revenue sums the purchases' revenue (0 without a purchase); entry/exit page and device
    are the first/last non-null values in event order; is_bounce means a single-event session;
    is_bot that any of its events has a bot user agent.
    """
    order = ["occurred_at", "event_id"]
    grouped = sessionized.where(F.col("session_id").isNotNull()).groupBy("user_key", "session_id")
    aggregated = grouped.agg(
        F.max("user_id").alias("user_id"),
        _first("anonymous_id", order).alias("anonymous_id"),
        F.min("occurred_at").alias("session_start"),
        F.max("occurred_at").alias("session_end"),
        F.count(F.lit(1)).alias("event_count"),
        F.size(F.collect_set("page_url")).alias("unique_pages"),
        _count("page_view").alias("page_views"),
        _count("product_view").alias("product_views"),
        _count("add_to_cart").alias("add_to_carts"),
        _count("begin_checkout").alias("begin_checkouts"),
        _count("purchase").alias("purchases"),
        F.coalesce(F.sum(F.when(F.col("event_type") == "purchase", F.col("revenue"))), F.lit(0))
        .cast("decimal(18,2)")
        .alias("revenue"),
        _first("page_url", order).alias("entry_page"),
        _first("page_url", order, last=True).alias("exit_page"),
        _first("device", order).alias("device"),
        F.max("is_bot").alias("is_bot"),
    )
    duration = (micros("session_end") - micros("session_start")) / F.lit(1_000_000.0)
    return aggregated.select(
        "user_key",
        "user_id",
        "anonymous_id",
        "session_id",
        "session_start",
        "session_end",
        duration.alias("duration_seconds"),
        "event_count",
        "unique_pages",
        "page_views",
        "product_views",
        "add_to_carts",
        "begin_checkouts",
        "purchases",
        "revenue",
        "entry_page",
        "exit_page",
        "device",
        (F.col("event_count") == 1).alias("is_bounce"),
        "is_bot",
    )
