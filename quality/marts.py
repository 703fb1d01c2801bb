"""Which marts the marts checkpoint checks, and how.

The default list follows the gold tables as the warehouse loads them (one row per day and key,
a ``date`` column) plus the ad-campaign performance mart. Set ``WATERSHED_QUALITY_MARTS_FILE``
to a JSON list to replace it::

    [{"table": "funnel_daily", "key": ["date", "device", "is_bot", "step_number"],
      "date_column": "date", "rate_columns": ["step_rate", "overall_rate"], "volume": "sessions"}]
"""

from __future__ import annotations

import json
from pathlib import Path

from quality.checks import MartSpec
from watershed.errors import ConfigError

DEFAULT_MARTS: tuple[MartSpec, ...] = (
    MartSpec(
        "funnel_daily",
        key=("date", "device", "is_bot", "step_number"),
        date_column="date",
        rate_columns=("step_rate", "overall_rate"),
        volume="sessions",
        non_negative=("sessions",),
    ),
    MartSpec(
        "product_interactions",
        key=("date", "product_id"),
        date_column="date",
        rate_columns=("view_to_cart_rate", "cart_to_purchase_rate"),
        volume="views",
        non_negative=("views", "add_to_carts", "purchases", "revenue"),
    ),
    MartSpec(
        "daily_revenue",
        key=("date",),
        date_column="date",
        volume="orders",
        non_negative=("orders", "revenue", "refunds", "refunded"),
    ),
    MartSpec(
        "daily_user_metrics",
        key=("date", "user_key"),
        date_column="date",
        volume=None,
        non_negative=("sessions", "events", "revenue"),
    ),
    MartSpec(
        "campaign_performance",
        key=("date", "platform", "campaign_id"),
        date_column="date",
        rate_columns=("ctr", "cvr"),
        volume="impressions",
        non_negative=("impressions", "clicks", "cost", "conversions"),
    ),
)

_FIELDS = {"table", "key", "date_column", "rate_columns", "volume", "non_negative"}


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
                f"WATERSHED_QUALITY_MARTS_FILE: entry {i} needs table, key, date_column "
                f"(optional: rate_columns, volume, non_negative); unknown: {', '.join(sorted(unknown)) or 'none'}"
            )
        specs.append(
            MartSpec(
                table=entry["table"],
                key=tuple(entry["key"]),
                date_column=entry["date_column"],
                rate_columns=tuple(entry.get("rate_columns", ())),
                volume=entry.get("volume"),
                non_negative=tuple(entry.get("non_negative", ())),
            )
        )
    if not specs:
        raise ConfigError(f"WATERSHED_QUALITY_MARTS_FILE: {path} holds no mart (expected a JSON list)")
    return tuple(specs)


def volume_band(previous: float | None, band: float) -> dict[str, float | None]:
    """The expectation parameters of the day-over-day check: previous volume +/- band; no
    bound when there is no previous day to compare with."""
    if previous is None or previous <= 0:
        return {"volume_min": 0, "volume_max": None}
    return {"volume_min": previous * (1 - band), "volume_max": previous * (1 + band)}
