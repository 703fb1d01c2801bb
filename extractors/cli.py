"""`watershed ads`: extract the ad platforms' daily campaign rows into the lake."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from watershed.errors import WatershedError

PLATFORMS = ("google_ads", "facebook_ads")


class ExtractionFailed(WatershedError):
    """An extraction stopped: the platform's error, and what was written before it. Not
    `retryable` when running it again cannot help (an expired token, the daily quota spent)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@click.group()
def ads() -> None:
    """The ad platforms: extraction into the lake (docs/ads.md)."""


@ads.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The last day of the window.")
@click.option("--platform", type=click.Choice(PLATFORMS), multiple=True, help="Only these (default: both).")
@click.option("--lookback-days", type=click.IntRange(min=1), help="Days ending --date (default per platform).")
def extract(day: datetime, platform: tuple[str, ...], lookback_days: int | None) -> None:
    """Re-extract the lookback window ending --date for every configured account and replace
    each account-day in bronze and silver."""
    from extractors.settings import load_ad_settings
    from watershed.settings import load_settings

    reports = {
        name: extract_platform(name, load_settings(), load_ad_settings(), day.date(), lookback_days)
        for name in platform or PLATFORMS
    }
    click.echo(json.dumps(reports, indent=2))


def extract_platform(name: str, settings: Any, ad: Any, end: Any, lookback: int | None = None) -> dict[str, Any]:
    """One platform's extraction as a small JSON-able summary (what a DAG task returns)."""
    if name == "facebook_ads":
        return _meta(settings, ad, end, lookback)
    if name == "google_ads":
        return _google(settings, ad, end, lookback)
    raise ValueError(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}")


def _summary(report: Any, platform: str) -> dict[str, Any]:
    days = sorted({w.day for w in report.days_written})
    return {
        "platform": platform,
        "accounts": list(report.accounts),
        "days": [days[0].isoformat(), days[-1].isoformat()] if days else [],
        "account_days_written": len(report.days_written),
        "rows": report.rows,
        "api_calls": report.api_calls,
        "retries": report.retries,
        "waited_seconds": round(sum(report.waits), 3),
    }


def _meta(settings: Any, ad: Any, end: Any, lookback: int | None) -> dict[str, Any]:
    from extractors import meta_ads

    if not ad.meta_account_ids:
        return {"platform": "facebook_ads", "skipped": "no WATERSHED_ADS_META_ACCOUNT_IDS"}
    if ad.meta_access_token is None:
        raise ExtractionFailed("WATERSHED_ADS_META_ACCESS_TOKEN is not set (a system user's token)", retryable=False)
    try:
        report = meta_ads.extract(
            settings,
            account_ids=ad.meta_account_ids,
            access_token=ad.meta_access_token.get_secret_value(),
            app_id=ad.meta_app_id,
            app_secret=_secret(ad.meta_app_secret),
            graph_url=ad.meta_graph_url,
            end=end,
            lookback=lookback or ad.meta_lookback_days,
            job_timeout=ad.meta_job_timeout_seconds,
        )
    except meta_ads.MetaAdsError as error:  # its message is redacted already
        raise _failed(error, retryable=not isinstance(error, meta_ads.TokenExpiredError)) from None
    return _summary(report, "facebook_ads")


def _google(settings: Any, ad: Any, end: Any, lookback: int | None) -> dict[str, Any]:
    from extractors import google_ads

    if not ad.google_customer_ids:
        return {"platform": "google_ads", "skipped": "no WATERSHED_ADS_GOOGLE_CUSTOMER_IDS"}
    config = {
        "developer_token": _secret(ad.google_developer_token),
        "client_id": ad.google_client_id,
        "client_secret": _secret(ad.google_client_secret),
        "refresh_token": _secret(ad.google_refresh_token),
        "login_customer_id": ad.google_login_customer_id,
        "endpoint": ad.google_endpoint,
        "token_uri": ad.google_token_uri,
    }
    missing = [k for k in ("developer_token", "client_id", "client_secret", "refresh_token") if not config[k]]
    if missing:
        names = ", ".join(f"WATERSHED_ADS_GOOGLE_{k.upper()}" for k in missing)
        raise ExtractionFailed(f"{names} not set (the developer token and an OAuth client)", retryable=False)
    try:
        report = google_ads.extract(
            settings,
            account_ids=ad.google_customer_ids,
            config=config,
            end=end,
            lookback=lookback or ad.google_lookback_days,
        )
    except google_ads.GoogleAdsError as error:  # its message is redacted already
        raise _failed(error, retryable=not isinstance(error, google_ads.NOT_RETRYABLE)) from None
    return _summary(report, "google_ads")


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _failed(error: Any, *, retryable: bool) -> ExtractionFailed:
    written = len(error.report.days_written) if error.report else 0
    return ExtractionFailed(f"{error} ({written} account-days written before it)", retryable=retryable)
