"""The ad_campaign_daily DAG's work, callable from a ``@task`` (dags/ad_campaign_daily.py).

Each returns a small JSON-able dict for XCom: counts and days, never a credential. An
extraction error that a retry cannot fix (an expired token, the daily quota spent) fails the task
without retries (``AirflowFailException``); others raise as they are, and Airflow retries them
with backoff. Airflow is imported only then, so this module is cheap to import.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

log = logging.getLogger(__name__)


def _day(ds: str | date | None) -> date:
    if ds is None:
        raise ValueError("no ds: call from a DAG run")
    return ds if isinstance(ds, date) else date.fromisoformat(str(ds))


def extract_task(platform: str, ds: str | date | None) -> dict[str, Any]:
    from extractors.cli import ExtractionFailed, extract_platform
    from extractors.connections import airflow_extra, with_connections
    from extractors.settings import load_ad_settings
    from watershed.settings import load_settings

    ads, used = with_connections(load_ad_settings(), airflow_extra)
    log.info("ad platform credentials: %s", f"Airflow connections {', '.join(used)}" if used else "WATERSHED_ADS_*")
    try:
        return extract_platform(platform, load_settings(), ads, _day(ds))
    except ExtractionFailed as error:
        if error.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(error)) from None


def window_days(extracted: list[dict[str, Any]]) -> list[date]:
    """Every day any extraction wrote (the union of their windows), oldest first."""
    days: set[date] = set()
    for summary in extracted:
        if summary.get("days"):
            first, last = (date.fromisoformat(d) for d in summary["days"])
            days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return sorted(days)


def summary_lines(ds: str, extracted: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> list[str]:
    lines = [f"date {ds}"]
    for s in extracted:
        if "skipped" in s:
            lines.append(f"{s['platform']}: skipped ({s['skipped']})")
        else:
            lines.append(
                f"{s['platform']}: {s['rows']:,} rows, {s['account_days_written']} account-days "
                f"({s['days'][0]}..{s['days'][1]}), {s['api_calls']} API calls, {s['retries']} retries"
            )
    lines += [f"{o['checkpoint']}: {'passed' if o['success'] else 'FAILED'} (score {o['score']:.3f})" for o in outcomes]
    return lines


def notify_task(ds: str | None, extracted: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
    """Post the run's summary to the alert webhook (info level: the run succeeded to get here)."""
    from watershed.alerts import send

    send(f"Watershed: ad_campaign_daily {ds} done", summary_lines(str(ds), extracted, outcomes), severity="info")
