"""The alert body Alertmanager's API receives, and the names the inhibitions may use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watershed.alerts import alertmanager_body


def test_an_event_alert_is_active_for_its_hold_and_carries_its_details() -> None:
    starts = datetime(2026, 12, 7, 2, 5, tzinfo=UTC)
    body = alertmanager_body(
        "AirflowRunFailed", "run r of d failed", ["reason: task_failure", "data interval start: x"],
        severity="critical", labels={"pipeline": "d"}, starts=starts, hold=timedelta(minutes=30),
    )  # fmt: skip
    assert body == [
        {
            "labels": {"alertname": "AirflowRunFailed", "severity": "critical", "pipeline": "d"},
            "annotations": {
                "summary": "run r of d failed",
                "description": "reason: task_failure\ndata interval start: x",
            },
            "startsAt": "2026-12-07T02:05:00+00:00",
            "endsAt": "2026-12-07T02:35:00+00:00",
        }
    ]


def test_an_unknown_alert_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown alert 'AirflowTaskFialed': add it to API_ALERTS"):
        alertmanager_body("AirflowTaskFialed", "x", [], severity="warning")
