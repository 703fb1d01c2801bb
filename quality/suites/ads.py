"""The ``ads.ad_platform_daily`` suite: the ad platforms' daily rows."""

from __future__ import annotations

from quality.suites.expectations import Check, range_checks
from watershed.contract import TableChecks, quality_inputs


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
    out += range_checks(checks)
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
