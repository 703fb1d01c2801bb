"""Alert delivery: Alertmanager's API (the platform's one alert path) when configured, else a
Slack-style incoming webhook and PagerDuty Events API v2.

Payload builders are pure (tested on inline alerts); :func:`deliver` posts them through the one
sender (:func:`watershed.alerts.post`) and never raises: an unreachable webhook is logged and
reported as not delivered, it must not stop the stream (the alert is on the `alerts` topic in any
case).
"""

from __future__ import annotations

from typing import Any

from spark_jobs.streaming.anomaly_rules import Alert
from watershed.alerts import alertmanager_body, post
from watershed.alerts import slack_payload as _slack_body

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_PD_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


def _lines(alert: Alert) -> list[str]:
    window = alert.to_json()
    return [
        f"rule: {alert.rule} (threshold {alert.threshold})",
        f"window: {window['window_start']} - {window['window_end']}",
        f"value: {alert.value:g}, previous window: {alert.previous:g}",
    ]


def slack_payload(alert: Alert) -> dict[str, Any]:
    severity = "error" if alert.severity == "critical" else "warning"
    return _slack_body(f"Watershed real-time: {alert.summary}", _lines(alert), severity=severity)


def pagerduty_payload(alert: Alert, routing_key: str) -> dict[str, Any]:
    """A PagerDuty Events v2 `trigger` event; dedup_key = the alert id, so a re-sent alert
    updates the same incident instead of opening a second one."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"watershed:{alert.alert_id}",
        "payload": {
            "summary": alert.summary[:1024],
            "source": "watershed-streaming",
            "severity": _PD_SEVERITY.get(alert.severity, "error"),
            "component": "real-time-metrics",
            "group": "ecommerce",
            "class": alert.rule,
            "timestamp": alert.to_json()["window_end"],
            "custom_details": alert.to_json(),
        },
    }


def alertmanager_payload(alert: Alert) -> list[dict[str, Any]]:
    """The alert for Alertmanager's API: `RealtimeAnomaly` labelled with its rule and window, so
    a re-sent alert is the same alert (Alertmanager deduplicates it), active for an hour from
    now (a replayed old window still notifies)."""
    return alertmanager_body(
        "RealtimeAnomaly",
        f"Watershed real-time: {alert.summary}",
        _lines(alert),
        severity="critical" if alert.severity == "critical" else "warning",
        labels={"rule": alert.rule, "window_start": alert.to_json()["window_start"]},
    )


def deliver(
    alerts: list[Alert],
    *,
    slack_url: str | None,
    pagerduty_url: str | None,
    pagerduty_routing_key: str | None,
    alertmanager_url: str | None = None,
    timeout: float = 5.0,
) -> dict[str, int]:
    """Send every alert to Alertmanager when configured (it routes to Slack and PagerDuty), else
    to each configured webhook; returns delivered/failed counts."""
    counts = {"delivered": 0, "failed": 0}
    if alerts and alertmanager_url:
        for alert in alerts:
            url = f"{alertmanager_url.rstrip('/')}/api/v2/alerts"
            delivered = post(url, alertmanager_payload(alert), timeout=timeout, what=f"alert {alert.alert_id}")
            counts["delivered" if delivered else "failed"] += 1
        return counts
    if not alerts or not (slack_url or pagerduty_url):
        return counts
    for alert in alerts:
        targets = []
        if slack_url:
            targets.append((slack_url, slack_payload(alert)))
        if pagerduty_url and pagerduty_routing_key:
            targets.append((pagerduty_url, pagerduty_payload(alert, pagerduty_routing_key)))
        for url, body in targets:
            delivered = post(url, body, timeout=timeout, what=f"alert {alert.alert_id}")
            counts["delivered" if delivered else "failed"] += 1
    return counts
