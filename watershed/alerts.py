"""Pipeline alerts: the events worth a human's attention, on the platform's one alert path.

With ``WATERSHED_ALERTMANAGER_URL`` set (the local stack's Airflow gets its Alertmanager), an alert
is posted to Alertmanager's API (`raise_alert`), which routes, groups, deduplicates and inhibits
it with the rule-evaluated alerts (docs/monitoring.md): warnings to Slack, critical ones also to
PagerDuty. Without it, the Slack-compatible webhook ``WATERSHED_ALERT_WEBHOOK_URL`` gets one
message. Used by the Airflow callbacks (task failure, run failure, missed deadline), the real-time
job's anomalies and the pipeline's notify step (an info message: always the webhook, it is not an
alert). Light to import (DAG files reference these callbacks by path); httpx loads on first use.
An alert that cannot be delivered is logged, never raised: a broken webhook must not fail the
pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from watershed.settings import load_settings

log = logging.getLogger(__name__)


def slack_payload(title: str, lines: list[str], *, severity: str = "error") -> dict[str, Any]:
    """A Slack incoming-webhook body (plain `text` plus one section block), pure for tests."""
    icon = {"error": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_green_circle:"}[severity]
    text = f"{icon} *{title}*\n" + "\n".join(f"• {line}" for line in lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def post(url: str, body: Any, *, timeout: float = 10.0, what: str = "alert") -> bool:
    """The one alert sender: POST one webhook body (Slack, PagerDuty) to `url`; True when it
    answered 2xx. Never raises: an unreachable or refusing webhook is logged (without the URL's
    query, which may carry a token) and reported as not delivered."""
    import httpx

    try:
        httpx.post(url, json=body, timeout=timeout).raise_for_status()
    except httpx.HTTPError as error:
        log.error("could not deliver the %s to %s: %s", what, url.split("?")[0], error)
        return False
    return True


def send(title: str, lines: list[str], *, severity: str = "error", url: str | None = None) -> bool:
    """Post a message to the webhook `url` (default: WATERSHED_ALERT_WEBHOOK_URL); True when delivered."""
    url = url or load_settings().alert_webhook_url
    log.warning("alert: %s | %s", title, " | ".join(lines))
    if not url:
        return False
    return post(url, slack_payload(title, lines, severity=severity))


# The alerts raised through Alertmanager's API (the rule-evaluated ones are in monitoring/rules).
API_ALERTS = ("AirflowTaskFailed", "AirflowRunFailed", "AirflowDeadlineMissed", "RealtimeAnomaly")


def alertmanager_body(
    name: str,
    summary: str,
    lines: list[str],
    *,
    severity: str,
    labels: Mapping[str, str] | None = None,
    starts: datetime | None = None,
    hold: timedelta = timedelta(hours=1),
) -> list[dict[str, Any]]:
    """One alert for Alertmanager's ``POST /api/v2/alerts`` (pure). An event has no end of its
    own: it stays active for `hold`, then resolves."""
    if name not in API_ALERTS:
        raise ValueError(f"unknown alert {name!r}: add it to API_ALERTS (the inhibitions check names)")
    starts = starts or datetime.now(UTC)
    return [
        {
            "labels": {"alertname": name, "severity": severity, **(labels or {})},
            "annotations": {"summary": summary[:1024], "description": "\n".join(lines)[:4096]},
            "startsAt": starts.isoformat(),
            "endsAt": (starts + hold).isoformat(),
        }
    ]


def raise_alert(
    name: str, summary: str, lines: list[str], *, severity: str, labels: Mapping[str, str] | None = None
) -> bool:
    """Raise the alert through Alertmanager when WATERSHED_ALERTMANAGER_URL is set; post it to the
    webhook when it is not, or when Alertmanager does not take it. True when delivered."""
    settings = load_settings()
    log.warning("alert %s (%s): %s | %s", name, severity, summary, " | ".join(lines))
    if settings.alertmanager_url:
        body = alertmanager_body(name, summary, lines, severity=severity, labels=labels,
                                 hold=settings.alert_event_hold)  # fmt: skip
        if post(f"{settings.alertmanager_url.rstrip('/')}/api/v2/alerts", body, what=f"alert {name}"):
            return True
    if settings.alert_webhook_url:
        return post(settings.alert_webhook_url, slack_payload(summary, lines, severity=_webhook_severity(severity)))
    return False


def _webhook_severity(severity: str) -> str:
    return {"critical": "error", "warning": "warning"}.get(severity, "info")


def task_failed(context: dict[str, Any]) -> None:
    """Airflow `on_failure_callback`: which task of which run failed, and why (a warning: the
    run's failure is the page)."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    dag_id, task_id = str(getattr(ti, "dag_id", "?")), str(getattr(ti, "task_id", "?"))
    raise_alert(
        "AirflowTaskFailed",
        f"Watershed: {dag_id}.{task_id} failed",
        [
            f"run: {getattr(dag_run, 'run_id', '?')}",
            f"data interval start: {context.get('data_interval_start')}",
            f"try: {getattr(ti, 'try_number', '?')}",
            f"error: {str(context.get('exception'))[:300]}",
        ],
        severity="warning",
        labels={"pipeline": dag_id, "task": task_id},
    )


def run_failed(context: dict[str, Any]) -> None:
    """Airflow DAG-level `on_failure_callback`: the run failed or overran its `dagrun_timeout`."""
    dag_run = context.get("dag_run")
    dag_id = str(getattr(dag_run, "dag_id", "?"))
    raise_alert(
        "AirflowRunFailed",
        f"Watershed: run {getattr(dag_run, 'run_id', '?')} of {dag_id} failed",
        [f"data interval start: {context.get('data_interval_start')}", f"reason: {context.get('reason', 'failed')}"],
        severity="critical",
        labels={"pipeline": dag_id},
    )


async def deadline_missed(dag_id: str, **kwargs: Any) -> None:
    """Airflow DeadlineAlert callback (run by the triggerer): the run is late."""
    raise_alert(
        "AirflowDeadlineMissed",
        f"Watershed: {dag_id} missed its deadline",
        [f"{k}: {v}" for k, v in sorted(kwargs.items())],
        severity="warning",
        labels={"pipeline": dag_id},
    )
