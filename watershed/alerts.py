"""Pipeline alerts: one Slack-compatible webhook message per event worth a human's attention.

Used by Airflow callbacks (task failure, missed deadline) and by the pipeline's notify step.
Light to import (DAG files reference these callbacks by path); httpx loads on first use. An alert
that cannot be delivered is logged, never raised: a broken webhook must not fail the pipeline.
"""

from __future__ import annotations

import logging
from typing import Any

from watershed.settings import load_settings

log = logging.getLogger(__name__)


def slack_payload(title: str, lines: list[str], *, severity: str = "error") -> dict[str, Any]:
    """A Slack incoming-webhook body (plain `text` plus one section block), pure for tests."""
    icon = {"error": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_green_circle:"}[severity]
    text = f"{icon} *{title}*\n" + "\n".join(f"• {line}" for line in lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def post(url: str, body: dict[str, Any], *, timeout: float = 10.0, what: str = "alert") -> bool:
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
    """Post the alert to `url` (default: WATERSHED_ALERT_WEBHOOK_URL); True when delivered."""
    url = url or load_settings().alert_webhook_url
    log.warning("alert: %s | %s", title, " | ".join(lines))
    if not url:
        return False
    return post(url, slack_payload(title, lines, severity=severity))


def task_failed(context: dict[str, Any]) -> None:
    """Airflow `on_failure_callback`: which task of which run failed, and why."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    send(
        f"Watershed: {getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed",
        [
            f"run: {getattr(dag_run, 'run_id', '?')}",
            f"data interval start: {context.get('data_interval_start')}",
            f"try: {getattr(ti, 'try_number', '?')}",
            f"error: {str(context.get('exception'))[:300]}",
        ],
    )


def run_failed(context: dict[str, Any]) -> None:
    """Airflow DAG-level `on_failure_callback`: the run failed or overran its `dagrun_timeout`."""
    dag_run = context.get("dag_run")
    send(
        f"Watershed: run {getattr(dag_run, 'run_id', '?')} of {getattr(dag_run, 'dag_id', '?')} failed",
        [f"data interval start: {context.get('data_interval_start')}", f"reason: {context.get('reason', 'failed')}"],
    )


async def deadline_missed(dag_id: str, **kwargs: Any) -> None:
    """Airflow DeadlineAlert callback (run by the triggerer): the run is late."""
    send(
        f"Watershed: {dag_id} missed its deadline", [f"{k}: {v}" for k, v in sorted(kwargs.items())], severity="warning"
    )
