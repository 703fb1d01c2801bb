"""Silver sessions, ad-platform rows and marts: clean generated data passes; rows broken in
known ways fail the expectation meant for them, with exactly those rows."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pandas as pd

from quality.checkpoints import Prepared, ad_validations, load_ads, silver_validations
from quality.runner import run_checkpoint
from simulator.fakes.snowflake import FakeSnowflake
from tests.conftest import prod_on_fake_snowflake
from tests.quality.conftest import START, as_silver_sessions, generated, run


def failed(outcome) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    return {f.qualified_name: f.unexpected_count for f in outcome.failures}


def test_broken_sessions_fail_duration_event_count_and_uniqueness(platform, qs) -> None:  # type: ignore[no-untyped-def]
    sessions = as_silver_sessions(generated().sessions)
    clean = run("silver", None, Prepared(silver_validations(None, sessions)), platform, qs)
    assert clean.success, clean.report()

    broken = sessions.copy()
    swapped = broken.index[:3]  # end before start
    broken.loc[swapped, ["session_start", "session_end"]] = broken.loc[
        swapped, ["session_end", "session_start"]
    ].to_numpy()
    broken.loc[swapped, "duration_seconds"] = -broken.loc[swapped, "duration_seconds"] - 1
    broken.loc[broken.index[10:12], "event_count"] = 0
    broken = pd.concat([broken, broken.iloc[20:24]], ignore_index=True)  # 4 sessions twice
    outcome = run("silver", None, Prepared(silver_validations(None, broken)), platform, qs)
    assert failed(outcome) == {
        "silver.sessions/unique:session_id": 8,
        "silver.sessions/range:duration_seconds": 3,
        "silver.sessions/range:event_count": 2,
        "silver.sessions/ends_after_start": 3,
    }


def test_broken_ad_rows_fail_ctr_cost_and_duplicates(platform, qs) -> None:  # type: ignore[no-untyped-def]
    rows = generated().ad_rows
    clean = run("ads", None, Prepared(ad_validations(rows)), platform, qs)
    assert clean.success, clean.report()

    assert len(rows) >= 10 and (rows["impressions"] > 0).all()
    broken = rows.copy()
    broken.loc[[0, 1, 2], "clicks"] = broken.loc[[0, 1, 2], "impressions"] + 5  # CTR > 1
    broken["cost"] = broken["cost"].astype(float)
    broken.loc[[5, 6], "cost"] = -0.5
    broken = pd.concat([broken, broken.loc[[8, 9]]], ignore_index=True)  # reported twice
    outcome = run("ads", None, Prepared(ad_validations(broken)), platform, qs)
    assert failed(outcome) == {
        "ads.ad_platform_daily/unique:date,platform,account_id,campaign_id": 4,
        "ads.ad_platform_daily/range:ctr": 3,
        "ads.ad_platform_daily/clicks_at_most_impressions": 3,
        "ads.ad_platform_daily/range:cost": 2,
    }
    assert all(v > 1 for v in outcome.failure("ads.ad_platform_daily/range:ctr").samples)


# ---- marts, read from a DuckDB warehouse -----------------------------------------------------------

MARTS = [
    {
        "table": "funnel_daily",
        "key": ["date", "is_bot"],
        "date_column": "date",
        "rate_columns": ["product_view_rate", "purchase_rate"],
        "volume": "sessions",
    },
    {
        "table": "campaign_performance",
        "key": ["date", "platform", "campaign_id"],
        "date_column": "date",
        "rate_columns": ["ctr"],
        "volume": "impressions",
        "non_negative": ["cost"],
    },
]


def build_warehouse(path, funnel: pd.DataFrame, campaigns: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.register("funnel_src", funnel)
    con.register("campaign_src", campaigns)
    con.execute(
        "create or replace table marts.funnel_daily as select date, is_bot, sessions, "
        "sessions_with_product_view / nullif(sessions, 0) as product_view_rate, "
        "sessions_with_purchase / nullif(sessions, 0) as purchase_rate from funnel_src"
    )
    con.execute(
        "create or replace table marts.campaign_performance as select date, platform, campaign_id, impressions, "
        "clicks, cast(cost as double) as cost, clicks / nullif(impressions, 0) as ctr from campaign_src"
    )
    con.close()


def marts_setup(platform, qs, tmp_path):  # type: ignore[no-untyped-def]
    data = generated()
    spec = tmp_path / "marts.json"
    spec.write_text(json.dumps(MARTS))
    platform.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    # two days of a small simulated shop differ a lot (the first day's ad reach is still growing)
    return data, qs.model_copy(update={"marts_file": spec, "volume_band": 1.5})


def test_marts_pass_on_truth_tables_and_fail_on_rates_keys_and_volume(platform, qs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data, marts_qs = marts_setup(platform, qs, tmp_path)
    day = START + timedelta(days=1)
    build_warehouse(platform.duckdb_file, data.funnel_daily, data.campaign_totals)
    clean = run_checkpoint("marts", day, settings=platform, quality_settings=marts_qs, data_docs=False)
    assert clean.success, clean.report()
    assert [v for v in clean.details["rows"]] == ["marts.funnel_daily", "marts.campaign_performance"]

    funnel = data.funnel_daily.copy()
    second = funnel["date"] == day
    funnel.loc[second, "sessions"] = funnel.loc[second, "sessions"] * 5  # volume x5 (band +-150%)
    funnel.loc[second, "sessions_with_purchase"] = funnel.loc[second, "sessions"] * 2  # rate 2.0
    campaigns = pd.concat([data.campaign_totals, data.campaign_totals[data.campaign_totals["date"] == day].head(2)])
    build_warehouse(platform.duckdb_file, funnel, campaigns)
    outcome = run_checkpoint("marts", day, settings=platform, quality_settings=marts_qs, data_docs=False)
    assert failed(outcome) == {
        "marts.funnel_daily/range:purchase_rate": int(
            (second & (funnel["sessions"] > 0)).sum()
        ),  # null without sessions
        "marts.funnel_daily/volume_day_over_day": None,
        "marts.campaign_performance/unique:date,platform,campaign_id": 4,
    }
    volume = outcome.failure("marts.funnel_daily/volume_day_over_day")
    previous = int(data.funnel_daily.loc[data.funnel_daily["date"] == START, "sessions"].sum())
    assert volume.observed_value == 5 * int(data.funnel_daily.loc[second, "sessions"].sum()) > 2.5 * previous
    assert volume.expected == {"min_value": 0.0, "max_value": previous * 2.5}
    assert f"expected within [0.0, {previous * 2.5}]" in volume.explain()
    assert f"previous day's volume: {previous}" in " ".join(outcome.notes)


def test_missing_marts_fail_has_rows(platform, qs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data, marts_qs = marts_setup(platform, qs, tmp_path)
    outcome = run_checkpoint("marts", date(2025, 1, 7), settings=platform, quality_settings=marts_qs, data_docs=False)
    assert outcome.failed_names == ["marts.funnel_daily/has_rows", "marts.campaign_performance/has_rows"]
    build_warehouse(platform.duckdb_file, data.funnel_daily, data.campaign_totals)
    later = run_checkpoint("marts", date(2025, 2, 1), settings=platform, quality_settings=marts_qs, data_docs=False)
    assert later.failed_names == ["marts.funnel_daily/has_rows", "marts.campaign_performance/has_rows"]
    assert "has no row for 2025-02-01" in later.failures[0].error


def test_the_ads_checkpoint_reads_silver_and_wants_every_platform_extracted(platform, qs) -> None:  # type: ignore[no-untyped-def]
    """The extractors' silver partition of a day: a platform without a file was not extracted and
    fails the checkpoint, naming it; an empty file (a day without delivery) counts as extracted."""
    from extractors.lake import write_account_day
    from watershed.contract import AdPlatformDailyRow

    rows = [AdPlatformDailyRow.model_validate(r) for r in generated().ad_rows.to_dict("records")]
    google = [r for r in rows if r.platform.value == "google_ads"]
    day = google[0].date
    google = [r for r in google if r.date == day]
    write_account_day(platform, "google_ads", google[0].account_id, day, [], google)

    outcome = run("ads", day, load_ads(platform, qs, day), platform, qs)
    assert [(f.qualified_name, f.error) for f in outcome.failures] == [
        ("ads.ad_platform_daily/extracted:facebook_ads",
         f"no facebook_ads extraction in silver/ad_platform/dt={day}: run `watershed ads extract --platform "
         "facebook_ads`"),
    ]  # fmt: skip

    write_account_day(platform, "facebook_ads", "1020304050607080", day, [], [])  # no delivery that day
    outcome = run("ads", day, load_ads(platform, qs, day), platform, qs)
    assert outcome.success, outcome.report()
    assert {e.element_count for e in outcome.expectations} == {len(google)} and len(google) > 0

    missing = run("ads", day + timedelta(days=1), load_ads(platform, qs, day + timedelta(days=1)), platform, qs)
    assert sorted(f.qualified_name for f in missing.failures) == [
        "ads.ad_platform_daily/extracted:facebook_ads",
        "ads.ad_platform_daily/extracted:google_ads",
        "ads.ad_platform_daily/has_rows",
    ]


def test_on_snowflake_the_marts_checkpoint_sends_the_same_checks_and_finds_the_same_failures(  # type: ignore[no-untyped-def]
    platform, qs, tmp_path
) -> None:
    """The prod profile: the marts are read from Snowflake (its wire fake, answering from the
    same marts in DuckDB); every statement is Snowflake SQL, and the outcome is the local one."""
    data, marts_qs = marts_setup(platform, qs, tmp_path)
    day = START + timedelta(days=1)
    funnel = data.funnel_daily.copy()
    second = funnel["date"] == day
    funnel.loc[second, "sessions_with_purchase"] = funnel.loc[second, "sessions"] * 2  # rate 2.0
    build_warehouse(platform.duckdb_file, funnel, data.campaign_totals)
    local = run_checkpoint("marts", day, settings=platform, quality_settings=marts_qs, data_docs=False)
    assert list(failed(local)) == ["marts.funnel_daily/range:purchase_rate"]

    snowflake = FakeSnowflake(platform.duckdb_file)
    try:
        prod = prod_on_fake_snowflake(tmp_path / "prod", snowflake.port)
        assert prod.warehouse == "snowflake"
        remote = run_checkpoint("marts", day, settings=prod, quality_settings=marts_qs, data_docs=False)
    finally:
        snowflake.stop()
    assert failed(remote) == failed(local)
    assert (remote.score, remote.details["rows"]) == (local.score, local.details["rows"])
    queries = [r["body"] for r in snowflake.requests if r["path"] == "/queries/v1/query-request"]
    assert [q["sqlText"] for q in queries] == [
        "select * from marts.funnel_daily where date = ?",
        "select sum(sessions), count(*) from marts.funnel_daily where date = ?",
        "select * from marts.campaign_performance where date = ?",
        "select sum(impressions), count(*) from marts.campaign_performance where date = ?",
    ]
    # the day travels as a bound DATE (milliseconds since the epoch), never inside the SQL text
    epoch_ms = lambda d: str((d - date(1970, 1, 1)).days * 86_400_000)  # noqa: E731
    assert [q["bindings"] for q in queries[:2]] == [
        {"1": {"type": "DATE", "value": epoch_ms(day)}},
        {"1": {"type": "DATE", "value": epoch_ms(day - timedelta(days=1))}},
    ]
