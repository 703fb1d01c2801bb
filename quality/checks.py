"""The expectation suites as code: plain descriptions (:class:`Check`) built from the event
contract's quality inputs and a few rules; :mod:`quality.gx` turns them into Great Expectations
objects. Kept free of GX so the suites can be listed and tested without its slow import.

Every check has a stable ``name`` (``required:event_id``, ``no_raw_pii:email``,
``arrival_not_late``...), which is what a failure report, an alert and a test refer to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from watershed.contract import (
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_KEYS,
    SESSION_EVENT_TYPES,
    TableChecks,
    quality_inputs,
)
from watershed.contract.fields import EARLIEST_OCCURRED_AT

# A row condition: ("==" | "<=" | ">=", column, value), ("in", column, values), ("null", column),
# ("not_null", column), ("any", [conditions]) or ("all", [conditions]).
Condition = tuple[Any, ...]


@dataclass(frozen=True)
class Check:
    """One expectation: a GX expectation class name, its arguments and what it means."""

    name: str
    expectation: str
    kwargs: dict[str, Any]
    description: str
    condition: Condition | None = None

    @property
    def columns(self) -> list[str]:
        kw = self.kwargs
        if "column" in kw:
            return [kw["column"]]
        if "column_A" in kw:
            return [kw["column_A"], kw["column_B"]]
        return list(kw.get("column_list", []))


@dataclass(frozen=True)
class Rules:
    """Tolerances of the soft checks (see :class:`quality.settings.QualitySettings`)."""

    late_after_seconds: float = 300.0
    max_late_share: float = 0.01
    max_out_of_order_share: float = 0.01
    max_bot_share: float = 0.10
    volume_band: float = 0.5

    @classmethod
    def from_settings(cls, settings: Any) -> Rules:
        return cls(
            late_after_seconds=settings.late_after_seconds,
            max_late_share=settings.max_late_share,
            max_out_of_order_share=settings.max_out_of_order_share,
            max_bot_share=settings.max_bot_share,
            volume_band=settings.volume_band,
        )


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _range_checks(checks: TableChecks, skip: tuple[str, ...] = ()) -> list[Check]:
    out = []
    for column, (low, high) in checks.numeric_ranges.items():
        if column in skip:
            continue
        if column.startswith("items."):  # a list's children: check the row's smallest and largest
            child = column
            if low is not None:
                out.append(
                    Check(
                        f"range:{child}",
                        "ExpectColumnValuesToBeBetween",
                        {"column": f"{child}.min", "min_value": _number(low)},
                        f"every order line's {child.split('.')[1]} is at least {low}",
                    )
                )
            if high is not None:
                out.append(
                    Check(
                        f"range:{child}.max",
                        "ExpectColumnValuesToBeBetween",
                        {"column": f"{child}.max", "max_value": _number(high)},
                        f"every order line's {child.split('.')[1]} is at most {high}",
                    )
                )
            continue
        out.append(
            Check(
                f"range:{column}",
                "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": _number(low), "max_value": _number(high)},
                f"{column} is numeric and within [{low if low is not None else '-inf'}, "
                f"{high if high is not None else 'inf'}] (the contract's bounds)",
            )
        )
    return out


def contract_event_checks(checks: TableChecks | None = None) -> list[Check]:
    """What every stored event must satisfy by the contract (hard checks: no tolerance)."""
    checks = checks or quality_inputs()["events"]
    out = [
        Check(f"required:{c}", "ExpectColumnValuesToNotBeNull", {"column": c}, f"{c} is set on every event")
        for c in checks.required_columns
    ]
    for group in checks.at_least_one_of:
        first, *others = group
        out.append(
            Check(
                "required:" + "_or_".join(group),
                "ExpectColumnValuesToNotBeNull",
                {"column": others[-1]},
                f"at least one of {', '.join(group)} is set",
                condition=("null", first),
            )
        )
    by_column: dict[str, list[str]] = {}
    for event_type, columns in checks.required_by_event_type.items():
        for column in columns:
            by_column.setdefault(column, []).append(event_type)
    for column, types in by_column.items():
        out.append(
            Check(
                f"required_for_type:{column}",
                "ExpectColumnValuesToNotBeNull",
                {"column": column},
                f"{column} is set on every {', '.join(types)} event",
                condition=("in", "event_type", types),
            )
        )
    for column, values in checks.accepted_values.items():
        out.append(
            Check(
                f"accepted_values:{column}",
                "ExpectColumnValuesToBeInSet",
                {"column": column, "value_set": list(values)},
                f"{column} is one of the contract's values",
            )
        )
    out += _range_checks(checks)
    for column, pattern in checks.patterns.items():
        out.append(
            Check(
                f"pattern:{column}",
                "ExpectColumnValuesToMatchRegex",
                {"column": column, "regex": pattern},
                f"{column} matches {pattern}",
            )
        )
    for column in checks.personal_columns:
        out.append(
            Check(
                f"no_raw_pii:{column}",
                "ExpectColumnValuesToNotMatchRegexList",
                {"column": column, "regex_list": list(checks.pii_patterns.values())},
                f"{column} holds no raw e-mail address, phone number or IP address (only keyed hashes)",
            )
        )
    money = checks.rules.get("currency_required_with_amount", [])
    if money:
        out.append(
            Check(
                "currency_with_amount",
                "ExpectColumnValuesToNotBeNull",
                {"column": "currency"},
                f"currency is set whenever an amount ({', '.join(money)}) is",
                condition=("any", [("not_null", m) for m in money]),
            )
        )
    out += [
        Check(
            "properties_is_object",
            "ExpectColumnValuesToBeInSet",
            {"column": "properties_is_object", "value_set": [True]},
            "properties is a JSON object",
        ),
        Check(
            "properties_max_keys",
            "ExpectColumnValuesToBeBetween",
            {"column": "properties_keys", "max_value": MAX_PROPERTIES_KEYS},
            f"properties has at most {MAX_PROPERTIES_KEYS} keys",
        ),
        Check(
            "properties_max_bytes",
            "ExpectColumnValuesToBeBetween",
            {"column": "properties_bytes", "max_value": MAX_PROPERTIES_BYTES},
            f"properties takes at most {MAX_PROPERTIES_BYTES} bytes",
        ),
        Check(
            "occurred_at_not_in_future",
            "ExpectColumnValuesToBeBetween",
            {"column": "arrival_lag_seconds", "min_value": -checks.rules["max_clock_skew_seconds"]},
            f"occurred_at is at most {checks.rules['max_clock_skew_seconds']} s after the time received",
        ),
        Check(
            "occurred_at_within_retention",
            "ExpectColumnValuesToBeBetween",
            {"column": "arrival_lag_seconds", "max_value": checks.rules["max_event_age_seconds"]},
            f"occurred_at is at most {checks.rules['max_event_age_seconds']} s before the time received",
        ),
        Check(
            "occurred_at_after_earliest",
            "ExpectColumnValuesToBeBetween",
            {"column": "occurred_at", "min_value": EARLIEST_OCCURRED_AT},
            f"occurred_at is not before {EARLIEST_OCCURRED_AT.isoformat()} (a broken clock)",
        ),
    ]
    return out


def bronze_event_checks(rules: Rules | None = None, checks: TableChecks | None = None) -> list[Check]:
    """Bronze: the contract's checks, the parse check, and the soft stream checks (late,
    out-of-order arrival and bot share, each within its tolerance). Duplicates are allowed:
    bronze keeps every copy, silver removes them."""
    rules = rules or Rules()
    max_age = (checks or quality_inputs()["events"]).rules["max_event_age_seconds"]
    out = [
        Check(
            "parsed_against_contract",
            "ExpectColumnValuesToBeNull",
            {"column": "parse_error"},
            "every field has the contract's type (parse_error is empty)",
        ),
        *contract_event_checks(checks),
        Check(
            "arrival_not_late",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "arrival_lag_seconds",
                "max_value": rules.late_after_seconds,
                "mostly": round(1 - rules.max_late_share, 6),
            },
            f"at most {rules.max_late_share:.1%} of events arrive more than {rules.late_after_seconds:g} s "
            "after they occurred (not counting retries, nor times outside the retention, which fail "
            "occurred_at_within_retention)",
            condition=("all", [("==", "is_retry", False), ("<=", "arrival_lag_seconds", max_age)]),
        ),
        Check(
            "arrival_in_order",
            "ExpectColumnValuesToBeInSet",
            {
                "column": "arrived_out_of_order",
                "value_set": [False],
                "mostly": round(1 - rules.max_out_of_order_share, 6),
            },
            f"at most {rules.max_out_of_order_share:.1%} of events arrive after a later event of the same user "
            "(site and back-end streams, as ad platforms report in batches; late events are counted as late)",
        ),
        Check(
            "bot_share",
            "ExpectColumnValuesToBeInSet",
            {"column": "is_bot", "value_set": [False], "mostly": round(1 - rules.max_bot_share, 6)},
            f"at most {rules.max_bot_share:.1%} of events come from bot user agents (the contract's pattern)",
        ),
    ]
    return out


def silver_event_checks(checks: TableChecks | None = None) -> list[Check]:
    """Silver events: valid by the contract, one row per event_id, keyed and sessionized."""
    checks = checks or quality_inputs()["events"]
    key = checks.unique_key[0]
    out = [
        Check(f"unique:{key}", "ExpectColumnValuesToBeUnique", {"column": key}, "no duplicate event_id in silver"),
        *[
            c
            for c in contract_event_checks(checks)
            if c.name.startswith(("required:", "required_for_type:", "accepted_values:", "range:", "no_raw_pii:"))
            and not c.name.startswith("range:items.")
        ],
        Check(
            "required:user_key", "ExpectColumnValuesToNotBeNull", {"column": "user_key"}, "every event has a user key"
        ),
        Check(
            "session_for_visit_events",
            "ExpectColumnValuesToNotBeNull",
            {"column": "session_id"},
            f"every {', '.join(SESSION_EVENT_TYPES)} event belongs to a session",
            condition=("in", "event_type", list(SESSION_EVENT_TYPES)),
        ),
        Check(
            "accepted_values:is_bot",
            "ExpectColumnValuesToBeInSet",
            {"column": "is_bot", "value_set": [True, False]},
            "is_bot is true or false",
        ),
    ]
    return out


def silver_session_checks() -> list[Check]:
    out = [
        Check("unique:session_id", "ExpectColumnValuesToBeUnique", {"column": "session_id"}, "one row per session"),
        *[
            Check(f"required:{c}", "ExpectColumnValuesToNotBeNull", {"column": c}, f"{c} is set on every session")
            for c in ("session_id", "user_key", "session_start", "session_end", "event_count")
        ],
        Check(
            "range:duration_seconds",
            "ExpectColumnValuesToBeBetween",
            {"column": "duration_seconds", "min_value": 0},
            "a session does not end before it starts (duration >= 0)",
        ),
        Check(
            "range:event_count",
            "ExpectColumnValuesToBeBetween",
            {"column": "event_count", "min_value": 1},
            "a session has at least one event",
        ),
        Check(
            "ends_after_start",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "session_end",
                "column_B": "session_start",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
            "session_end >= session_start",
        ),
    ]
    for column in ("page_views", "product_views", "add_to_carts", "begin_checkouts", "purchases", "revenue"):
        out.append(
            Check(
                f"range:{column}",
                "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": 0},
                f"{column} is not negative",
            )
        )
    return out


def ad_row_checks(checks: TableChecks | None = None) -> list[Check]:
    """Ad-platform daily rows: contract fields, CTR in [0, 1], cost >= 0, clicks <= impressions,
    one row per (date, platform, campaign_id)."""
    checks = checks or quality_inputs()["ad_platform_daily"]
    low, high = checks.rules.get("ctr_between", [0, 1])
    out = [
        Check(f"required:{c}", "ExpectColumnValuesToNotBeNull", {"column": c}, f"{c} is set on every row")
        for c in checks.required_columns
    ]
    out += [
        Check(
            f"accepted_values:{c}",
            "ExpectColumnValuesToBeInSet",
            {"column": c, "value_set": list(v)},
            f"{c} is one of the contract's values",
        )
        for c, v in checks.accepted_values.items()
    ]
    out += _range_checks(checks)
    out += [
        Check(f"pattern:{c}", "ExpectColumnValuesToMatchRegex", {"column": c, "regex": p}, f"{c} matches {p}")
        for c, p in checks.patterns.items()
    ]
    out += [
        Check(
            "unique:" + ",".join(checks.unique_key),
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": list(checks.unique_key)},
            "no duplicate " + "/".join(checks.unique_key) + " row",
        ),
        Check(
            "range:ctr",
            "ExpectColumnValuesToBeBetween",
            {"column": "ctr", "min_value": low, "max_value": high},
            f"CTR (clicks / impressions) is within [{low}, {high}]",
        ),
    ]
    if checks.rules.get("clicks_at_most_impressions"):
        out.append(
            Check(
                "clicks_at_most_impressions",
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "impressions",
                    "column_B": "clicks",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                "clicks <= impressions",
            )
        )
    return out


@dataclass(frozen=True)
class MartSpec:
    """What to check on one mart: its key, its rates and the measure whose day-over-day change
    must stay within the band. `date_column` selects the day; `volume` is a column summed over
    the day's rows, or None to count rows."""

    table: str
    key: tuple[str, ...]
    date_column: str
    rate_columns: tuple[str, ...] = ()
    volume: str | None = None
    non_negative: tuple[str, ...] = ()
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
