"""The ``silver.events`` and ``silver.sessions`` suites: deduplicated, keyed, sessionized."""

from __future__ import annotations

from quality.suites.expectations import Check, contract_event_checks
from watershed.contract import SESSION_EVENT_TYPES, TableChecks, quality_inputs


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
