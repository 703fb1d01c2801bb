"""
### ad_campaign_daily

The ad platforms' daily campaign reports, at 02:00 UTC for the day just over (`{{ ds }}`):

[extract_google_ads, extract_meta_ads] -> ads checkpoint -> warehouse load -> dbt build (`ads`)
-> ad marts checkpoint -> notify.

Each extraction re-reads its lookback window ending `{{ ds }}` (30 days for Google Ads, 28 for
Meta Ads: both restate recent conversions) and replaces every account-day of it in bronze (the
responses as received) and silver (the contract rows), atomically per account-day: landing is
part of extraction. The load replaces the same days of `raw.ad_platform_daily`; dbt rebuilds the
ad marts whole. A failing checkpoint stops everything downstream and alerts.

Both extraction tasks run in the `ad_platform_api` pool (create it: `airflow pools set
ad_platform_api 2 "ad platform API calls"`), which caps concurrent API work across runs and
backfills. Credentials come from `WATERSHED_ADS_*` (the worker's environment or secrets backend),
never from XCom: the tasks return counts only. docs/ads.md has the rest.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Asset, chain, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

AD_ROWS = Asset("watershed://lake/silver/ad_platform")
WAREHOUSE_RAW_ADS = Asset("watershed://warehouse/raw/ad_platform_daily")
AD_MARTS = Asset("watershed://warehouse/marts/ads")
POOL = "ad_platform_api"


def _failed(context):  # type: ignore[no-untyped-def]
    from watershed.alerts import task_failed

    task_failed(context)


def _run_failed(context):  # type: ignore[no-untyped-def]
    from watershed.alerts import run_failed

    run_failed(context)


@dag(
    # at 02:00 UTC, for the interval that ended then: ds is the day before
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    tags=["watershed", "ads", "batch"],
    doc_md=__doc__,
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": _failed,
    },
    # the deadline: a run still going after 2 hours is failed and alerted
    dagrun_timeout=timedelta(hours=2),
    on_failure_callback=_run_failed,
)
def ad_campaign_daily() -> None:
    @task(pool=POOL, outlets=[AD_ROWS])
    def extract_google_ads(ds: str | None = None) -> dict:
        from extractors.tasks import extract_task

        return extract_task("google_ads", ds)

    @task(pool=POOL, outlets=[AD_ROWS])
    def extract_meta_ads(ds: str | None = None) -> dict:
        from extractors.tasks import extract_task

        return extract_task("facebook_ads", ds)

    @task
    def ads_checkpoint(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("ads", ds)

    @task(outlets=[WAREHOUSE_RAW_ADS])
    def warehouse_load(extracted: list[dict], ds: str | None = None) -> dict:
        """Every day the extractions rewrote, into raw.ad_platform_daily (the ads group)."""
        from datetime import date

        from extractors.tasks import window_days
        from warehouse.loader import load_date
        from watershed.settings import load_settings

        settings = load_settings()
        days = window_days(extracted) or [date.fromisoformat(str(ds))]
        rows = {d.isoformat(): load_date(settings, d, group="ads")["rows"]["ad_platform_daily"] for d in days}
        return {"days": [days[0].isoformat(), days[-1].isoformat()], "rows": sum(rows.values()), "rows_of_ds": rows[ds]}

    dbt_ads = BashOperator(task_id="dbt_ads", bash_command="watershed warehouse build --select ads", outlets=[AD_MARTS])

    @task
    def ad_marts_checkpoint(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("ad_marts", ds)

    @task
    def notify(extracted: list[dict], outcomes: list[dict], ds: str | None = None) -> None:
        from extractors.tasks import notify_task

        notify_task(ds, extracted, outcomes)

    extracted = [extract_google_ads(), extract_meta_ads()]
    checked, loaded, marts = ads_checkpoint(), warehouse_load(extracted), ad_marts_checkpoint()
    chain(extracted, checked, loaded, dbt_ads, marts)
    notify(extracted, [checked, marts])


ad_campaign_daily()
