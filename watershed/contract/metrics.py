"""The metrics glossary: one definition per metric, one name everywhere.

Every mart column, streaming figure, demo line and dashboard panel that carries a metric uses a
name from :data:`METRICS` and computes it as written here. ``docs/metrics.md`` is rendered from
this module (``python -m watershed.contract.metrics > docs/metrics.md``; a test keeps the two
equal). Where a metric is computed in the warehouse, ``reference`` is an independent DuckDB
computation over the fact tables (``marts.fct_sessions``, ``marts.fct_user_events``): a test
builds the marts on generated traffic and checks each column against it.

Shared rules:

* **bots** are excluded from every rate a report shows. Marts keep bot rows, flagged by
  ``is_bot`` (``BOT_USER_AGENT_PATTERN``), so that a report can say how much traffic was left
  out. A rate is read from the rows where ``is_bot`` is false;
* **days** are UTC days: a session's day is the day of its first event, an order's day is
  the day the purchase occurred;
* **money** is never summed across currencies. Every amount is in the event's ``currency``,
  and an aggregate of amounts is grouped by currency or carries the currency it is in;
* **revenue** is gross: the purchases' totals, with refunds not subtracted. ``net_revenue`` is
  revenue minus the amounts refunded on the same day.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    name: str
    definition: str
    unit: str
    bots: str
    columns: tuple[str, ...] = ()  # where it is stored: "<mart>.<column>" or "streaming.<column>"
    # DuckDB SQL over the fact tables returning the mart's key columns and `value`, for `check`
    reference: str | None = None
    check: str | None = None  # the "<mart>.<column>" the reference is compared with
    keys: tuple[str, ...] = field(default_factory=tuple)  # the mart's key columns for the comparison


EXCLUDED = "excluded (rates are read where is_bot is false)"
FLAGGED = "kept, flagged by is_bot"

METRICS: tuple[Metric, ...] = (
    Metric(
        "sessions",
        "Visits by the sessionization rule of docs/lake.md (a gap of more than 30 minutes, or the first"
        " event of the second day of a visit, starts a new one), counted on the day of their first event.",
        "count",
        FLAGGED,
        ("fct_sessions (one row each)", "conversion_funnel.sessions", "agg_daily_user_metrics.sessions"),
        """select session_date as funnel_date, device, is_bot, count(*) as value
           from marts.fct_sessions group by all""",
        "conversion_funnel.sessions",
        ("funnel_date", "device", "is_bot"),
    ),
    Metric(
        "bounce_rate",
        "Sessions of a single event / sessions.",
        "share 0..1",
        EXCLUDED,
        ("fct_sessions.is_bounce",),
    ),
    Metric(
        "conversion_rate",
        "Sessions with a purchase / sessions, of the day's sessions by users who are not bots"
        " (conversion_funnel has it per device; the demo's figure is over every device).",
        "share 0..1",
        EXCLUDED,
        ("conversion_funnel.conversion_rate", "the demo's summary"),
        """select session_date as funnel_date, device, is_bot,
                  count(*) filter (where purchases > 0) / count(*) as value
           from marts.fct_sessions group by all""",
        "conversion_funnel.conversion_rate",
        ("funnel_date", "device", "is_bot"),
    ),
    Metric(
        "cart_conversion_rate",
        "Of a user's sessions with an add_to_cart, the share that also has a purchase, per user and day.",
        "share 0..1",
        FLAGGED,
        ("agg_daily_user_metrics.cart_conversion_rate",),
        """select session_date as activity_date, user_key,
                  count(*) filter (where add_to_carts > 0 and purchases > 0)
                  / nullif(count(*) filter (where add_to_carts > 0), 0) as value
           from marts.fct_sessions group by all""",
        "agg_daily_user_metrics.cart_conversion_rate",
        ("activity_date", "user_key"),
    ),
    Metric(
        "buyer_share",
        "Users with a purchase / users with any event in a tumbling window of the real-time job (the"
        " stream has no sessions; ad-platform events have no user and are not counted).",
        "share 0..1",
        "included (the stream does not read user agents)",
        ("streaming.buyer_share",),
    ),
    Metric(
        "orders",
        "Purchase events (valid, deduplicated), on the day the purchase occurred.",
        "count",
        FLAGGED,
        ("daily_revenue.orders", "agg_daily_user_metrics.purchases", "streaming.purchases"),
        """select event_date as revenue_date, currency, count(*) as value
           from marts.fct_user_events where event_type = 'purchase' group by all""",
        "daily_revenue.orders",
        ("revenue_date", "currency"),
    ),
    Metric(
        "revenue",
        "Gross: the sum of the purchases' totals (refunds are not subtracted), per currency. Per product"
        " (product_performance) it is the sum of the order lines' quantity x unit price.",
        "money, in `currency`",
        FLAGGED,
        (
            "daily_revenue.revenue",
            "fct_sessions.revenue",
            "agg_daily_user_metrics.total_revenue",
            "product_performance.revenue",
            "streaming.revenue",
        ),
        """select event_date as revenue_date, currency, sum(revenue) as value
           from marts.fct_user_events where event_type = 'purchase' group by all""",
        "daily_revenue.revenue",
        ("revenue_date", "currency"),
    ),
    Metric(
        "net_revenue",
        "Revenue minus the amounts refunded on the same day (a refund counts on the day it occurred,"
        " not on its order's day), per currency.",
        "money, in `currency`",
        FLAGGED,
        ("daily_revenue.net_revenue",),
        """select event_date as revenue_date, currency,
                  coalesce(sum(revenue) filter (where event_type = 'purchase'), 0)
                  - coalesce(sum(revenue) filter (where event_type = 'refund'), 0) as value
           from marts.fct_user_events where event_type in ('purchase', 'refund') group by all""",
        "daily_revenue.net_revenue",
        ("revenue_date", "currency"),
    ),
    Metric(
        "avg_order_value",
        "Revenue / orders, rounded to cents; null without an order.",
        "money, in `currency`",
        FLAGGED,
        ("daily_revenue.avg_order_value", "agg_daily_user_metrics.avg_order_value"),
        """select event_date as revenue_date, currency, round(sum(revenue) / count(*), 2) as value
           from marts.fct_user_events where event_type = 'purchase' group by all""",
        "daily_revenue.avg_order_value",
        ("revenue_date", "currency"),
    ),
    Metric(
        "late",
        "An event received more than 300 seconds after it occurred (received_at - occurred_at >"
        " WATERSHED_LATE_AFTER_SECONDS; the Kafka timestamp when received_at is missing), whose event"
        " time is believable. One definition (watershed.contract.semantics.LATE_AFTER): landing flags"
        " it, the bronze gate bounds the day's share, the real-time job counts it per window. Events"
        " the real-time job drops because they are behind its watermark are a different figure,"
        " named dropped_by_watermark_total.",
        "flag / count",
        "included",
        ("bronze.is_late", "bronze.events arrival_not_late", "streaming.late_events"),
    ),
    Metric(
        "ctr",
        "Clicks / impressions of an ad, campaign or platform over the same period.",
        "share 0..1",
        "not applicable (the ad platforms' own counts)",
    ),
    Metric("cpc", "Cost / clicks.", "money, in the account's currency", "not applicable"),
    Metric("cvr", "Conversions / clicks.", "share 0..1", "not applicable"),
    Metric("cpa", "Cost / conversions.", "money, in the account's currency", "not applicable"),
    Metric(
        "roas",
        "Conversion value / cost, both in the same currency.",
        "ratio",
        "not applicable",
    ),
)

BY_NAME = {m.name: m for m in METRICS}

# Stored columns that share a metric's name but are not that metric, and why.
NOT_METRICS: dict[str, str] = {
    "fct_user_events.revenue": "the event's own `revenue` field of the contract: a purchase's total, or on a"
    " refund the amount refunded (positive); sum it only with `event_type = 'purchase'`",
}


def markdown() -> str:
    """docs/metrics.md."""
    doc = (__doc__ or "").split("\n\n", 2)
    rules = doc[2].split("Shared rules:\n\n", 1)[1].strip().replace("``", "`")
    lines = [
        "# Metrics",
        "",
        "One definition per metric, one name everywhere. This page is rendered from",
        "`watershed/contract/metrics.py` (`python -m watershed.contract.metrics > docs/metrics.md`);",
        "a test fails when the two differ. Where a metric is computed in the warehouse, the test suite",
        "(`tests/warehouse/test_ground_truth.py`) compares the mart column with an independent DuckDB",
        "computation over the fact tables on generated traffic.",
        "",
        "## Shared rules",
        "",
        rules,
        "",
        "## Glossary",
        "",
        "| metric | definition | unit | bots | where |",
        "|---|---|---|---|---|",
    ]
    for m in METRICS:
        where = ", ".join(f"`{c}`" if " " not in c else c for c in m.columns) or "the ad marts (to come)"
        lines.append(f"| `{m.name}` | {m.definition} | {m.unit} | {m.bots} | {where} |")
    lines += ["", "## Columns named like a metric that are not one", ""]
    lines += [f"* `{column}`: {why}." for column, why in NOT_METRICS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
