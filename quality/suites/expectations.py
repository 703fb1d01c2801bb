"""What every suite is made of: :class:`Check` (one expectation: a GX expectation class name, its
arguments, what it means, an optional row condition), the tolerances of the soft checks
(:class:`Rules`), and the builders shared by the layers' suites: the contract's range checks and
:func:`contract_event_checks`, what every stored event must satisfy by the event contract.

Every check has a stable ``name`` (``required:event_id``, ``no_raw_pii:email``,
``arrival_not_late``...), which is what a failure report, an alert and a test refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from watershed.contract import MAX_PROPERTIES_BYTES, MAX_PROPERTIES_KEYS, TableChecks, quality_inputs
from watershed.contract.fields import EARLIEST_OCCURRED_AT
from watershed.contract.semantics import LATE_AFTER

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

    late_after_seconds: float = LATE_AFTER.total_seconds()
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


def number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def range_checks(checks: TableChecks, skip: tuple[str, ...] = ()) -> list[Check]:
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
                        {"column": f"{child}.min", "min_value": number(low)},
                        f"every order line's {child.split('.')[1]} is at least {low}",
                    )
                )
            if high is not None:
                out.append(
                    Check(
                        f"range:{child}.max",
                        "ExpectColumnValuesToBeBetween",
                        {"column": f"{child}.max", "max_value": number(high)},
                        f"every order line's {child.split('.')[1]} is at most {high}",
                    )
                )
            continue
        out.append(
            Check(
                f"range:{column}",
                "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": number(low), "max_value": number(high)},
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
    out += range_checks(checks)
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
