"""The ``bronze.events`` suite: every landed event, before deduplication."""

from __future__ import annotations

from quality.suites.expectations import Check, Rules, contract_event_checks
from watershed.contract import TableChecks, quality_inputs


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
