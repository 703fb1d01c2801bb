"""The ``ledger.reconciliation`` suite: one expectation per measured step of the event ledger
(:mod:`quality.ledger`), ``reconciles:<step>``, whose unexpected rows are the hours that do not
balance."""

from __future__ import annotations

from quality.suites.expectations import Check


def ledger_checks(steps: list[str]) -> list[Check]:
    return [
        Check(
            f"reconciles:{step}",
            "ExpectColumnValuesToBeBetween",
            {"column": "unexplained", "min_value": 0, "max_value": 0},
            f"every event before {step} is found in {step} or explained (unexplained = 0 in every hour)",
            condition=("==", "step", step),
        )
        for step in steps
    ]


def ownership_checks() -> list[Check]:
    return [
        Check(
            "owned_once",
            "ExpectColumnValuesToBeNull",
            {"column": "problem"},
            "every valid, deduplicated event of bronze dt=D is in silver of exactly one day (D, or D-1 when its"
            " session started there): none twice, none nowhere, and silver holds no event bronze did not accept",
        )
    ]
