"""The ``marts.<table>`` suites: which marts the marts checkpoint checks, and how (:class:`MartSpec`,
:func:`mart_checks`, the day-over-day band).

The default list is the dbt marts of ``dbt/models/marts`` (docs/warehouse.md), in the ``marts``
schema, each with its grain as key and the day column it is partitioned by. Rates that are
shares are checked within [0, 1]; ``product_performance``'s view-to-cart and cart-to-purchase
are ratios that may exceed 1, so they are only checked >= 0. Set ``WATERSHED_QUALITY_MARTS_FILE``
to a JSON list to replace the defaults::

    [{"table": "conversion_funnel", "key": ["funnel_date", "device", "is_bot"],
      "date_column": "funnel_date", "rate_columns": ["conversion_rate"], "volume": "sessions"}]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quality.suites.expectations import Check
from watershed.errors import ConfigError


@dataclass(frozen=True)
class MartSpec:
    """What to check on one mart: its key, its rates and the measure whose day-over-day change
    must stay within the band. `date_column` selects the day; `volume` is a column summed over
    the day's rows, or None to count rows. `nullable` names key columns that may be null (the
    key is still unique with them): daily_revenue's currency on a day without a transaction.
    `cumulative`: the mart is a snapshot of everything up to the day (dim_users_daily), whose
    volume grows with every new user: only a fall is bounded, not a rise."""

    table: str
    key: tuple[str, ...]
    date_column: str
    rate_columns: tuple[str, ...] = ()
    volume: str | None = None
    non_negative: tuple[str, ...] = ()
    nullable: tuple[str, ...] = ()
    cumulative: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def mart_checks(spec: MartSpec) -> list[Check]:
    out = [
        Check(
            "unique:" + ",".join(spec.key),
            "ExpectCompoundColumnsToBeUnique" if len(spec.key) > 1 else "ExpectColumnValuesToBeUnique",
            {"column_list": list(spec.key)} if len(spec.key) > 1 else {"column": spec.key[0]},
            f"one row per {', '.join(spec.key)}",
        ),
        *[
            Check(f"required:{c}", "ExpectColumnValuesToNotBeNull", {"column": c}, f"{c} is set on every row")
            for c in spec.key
            if c not in spec.nullable
        ],
        *[
            Check(
                f"range:{c}",
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0, "max_value": 1},
                f"{c} is a rate within [0, 1]",
            )
            for c in spec.rate_columns
        ],
        *[
            Check(f"range:{c}", "ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0}, f"{c} >= 0")
            for c in spec.non_negative
        ],
    ]
    parameters = {"min_value": {"$PARAMETER": "volume_min"}, "max_value": {"$PARAMETER": "volume_max"}}
    if spec.volume:
        out.append(
            Check(
                "volume_day_over_day",
                "ExpectColumnSumToBeBetween",
                {"column": spec.volume, **parameters},
                f"the day's sum of {spec.volume} is within the band around the previous day's",
            )
        )
    else:
        out.append(
            Check(
                "volume_day_over_day",
                "ExpectTableRowCountToBeBetween",
                dict(parameters),
                "the day's row count is within the band around the previous day's",
            )
        )
    return out


DEFAULT_MARTS: tuple[MartSpec, ...] = (
    MartSpec(
        "conversion_funnel",
        key=("funnel_date", "device", "is_bot"),
        date_column="funnel_date",
        rate_columns=("product_view_rate", "add_to_cart_rate", "begin_checkout_rate", "conversion_rate"),
        volume="sessions",
        non_negative=("sessions", "purchase_sessions"),
    ),
    MartSpec(
        "agg_daily_user_metrics",
        key=("activity_date", "user_key"),
        date_column="activity_date",
        rate_columns=("cart_conversion_rate",),
        volume="sessions",
        non_negative=("total_events", "sessions", "purchases", "total_revenue", "avg_session_duration"),
    ),
    MartSpec(
        "product_performance",
        key=("activity_date", "product_id"),
        date_column="activity_date",
        volume=None,
        non_negative=("purchases", "revenue", "view_to_cart_rate", "cart_to_purchase_rate"),
    ),
    MartSpec(
        "daily_revenue",
        key=("revenue_date", "currency"),
        date_column="revenue_date",
        nullable=("currency",),
        volume="orders",
        non_negative=("orders", "revenue", "refunds", "refunded"),
    ),
    MartSpec(
        "fct_sessions",
        key=("session_id",),
        date_column="session_date",
        volume=None,
        non_negative=("duration_seconds", "event_count", "revenue"),
    ),
    MartSpec(
        "fct_user_events",
        key=("event_id",),
        date_column="event_date",
        volume=None,
        non_negative=("revenue", "price"),
    ),
    MartSpec(
        # a snapshot per day: every user seen by then, so its rows grow with every new user (by
        # 77% on the second day of a young shop): only a fall is bounded
        "dim_users_daily",
        key=("as_of_date", "user_key"),
        date_column="as_of_date",
        volume=None,
        cumulative=True,
        non_negative=("lifetime_sessions", "lifetime_orders", "lifetime_revenue"),
    ),
)

# The ad-campaign marts (dbt/models/ads/marts), checked by the ad_marts checkpoint of
# ad_campaign_daily: CTR is a share; CVR (conversions / clicks) may exceed 1, so it is only >= 0.
AD_MARTS: tuple[MartSpec, ...] = (
    MartSpec(
        "campaign_performance_summary",
        key=("date_day", "platform", "account_id", "campaign_id"),
        date_column="date_day",
        rate_columns=("ctr",),
        volume=None,
        non_negative=("impressions", "clicks", "spend", "conversions", "cpc", "cvr", "cpa", "efficiency_score"),
    ),
    MartSpec(
        "campaign_roas_daily",
        key=("date_day", "platform", "campaign_id"),
        date_column="date_day",
        volume=None,
        non_negative=("spend", "shop_orders", "shop_revenue", "reported_roas", "shop_roas"),
    ),
)

_FIELDS = {"table", "key", "date_column", "rate_columns", "volume", "non_negative", "nullable", "cumulative"}


def load_marts(path: Path | None) -> tuple[MartSpec, ...]:
    if path is None:
        return DEFAULT_MARTS
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"WATERSHED_QUALITY_MARTS_FILE: cannot read {path}: {error}") from None
    specs = []
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        unknown = set(entry) - _FIELDS
        if unknown or not {"table", "key", "date_column"} <= set(entry):
            raise ConfigError(
                f"WATERSHED_QUALITY_MARTS_FILE: entry {i} needs table, key, date_column (optional: rate_columns, "
                f"volume, non_negative, nullable, cumulative); unknown: {', '.join(sorted(unknown)) or 'none'}"
            )
        specs.append(
            MartSpec(
                table=entry["table"],
                key=tuple(entry["key"]),
                date_column=entry["date_column"],
                rate_columns=tuple(entry.get("rate_columns", ())),
                volume=entry.get("volume"),
                non_negative=tuple(entry.get("non_negative", ())),
                nullable=tuple(entry.get("nullable", ())),
                cumulative=bool(entry.get("cumulative", False)),
            )
        )
    if not specs:
        raise ConfigError(f"WATERSHED_QUALITY_MARTS_FILE: {path} holds no mart (expected a JSON list)")
    return tuple(specs)


# the day-over-day band's floor, in square roots of the previous day's count (volume_band)
NOISE_SIGMAS = 3.0


def volume_band(
    previous: float | None, band: float, noise_sigmas: float = NOISE_SIGMAS, *, cumulative: bool = False
) -> dict[str, float | None]:
    """The expectation parameters of the day-over-day check: previous volume +/- the larger of
    `band` x previous and `noise_sigmas` x sqrt(previous); no bound when there is no previous day.

    The volumes are counts (sessions, orders, rows). A count of independent arrivals swings by
    about its square root from day to day (Poisson), so a relative band alone flags noise on small
    days (4 orders, then 6, then 2 is -67%, and ordinary) while it is the right bound on large ones
    (10,000 sessions: +/-50% is +/-5,000, the noise +/-300)."""
    if previous is None or previous <= 0:
        return {"volume_min": 0, "volume_max": None}
    allowed = max(previous * band, noise_sigmas * math.sqrt(previous))
    return {"volume_min": max(0.0, previous - allowed), "volume_max": None if cumulative else previous + allowed}
