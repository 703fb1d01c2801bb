"""ecommerce_daily's stream_vs_batch task against the test stack's Redis and a DuckDB file: skipped,
with its reason, when there is nothing live to reconcile; failed, naming the difference, when the
counters and the mart disagree; a small summary when they agree."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from quality.tasks import stream_batch_task
from spark_jobs.streaming import counters
from watershed.stack.process import free_port

DAY = "2001-01-02"  # a day no other test counts under the default key


@pytest.fixture
def warehouse(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.ad_events_daily as select date '2001-01-02' as date_day, 'c1' as campaign_id, "
            "'google_ads' as platform, 10 as impressions, 1 as clicks, 0 as conversions, "
            "0.070000::decimal(24, 6) as cost, 0::decimal(24, 2) as conversions_value"
        )
    monkeypatch.setenv("WATERSHED_DUCKDB_PATH", str(path))
    return path


@pytest.fixture
def live(redis_client):  # type: ignore[no-untyped-def]
    def put(clicks: int) -> None:
        row = {"campaign_id": "c1", "day": DAY, "impressions": 10, "clicks": clicks, "conversions": 0,
               "cost": Decimal("0.07"), "revenue": Decimal(0)}  # fmt: skip
        counters.apply(redis_client, counters.DEFAULT_KEY, "test_stream_batch_task", clicks, [row], "t")

    yield put
    tag = f"{{{counters.DEFAULT_KEY}}}"
    redis_client.delete(f"{tag}:day:{DAY}:campaign:c1", f"{tag}:day:{DAY}:campaigns")
    redis_client.srem(f"{tag}:days", DAY)
    redis_client.hdel(f"{tag}:batches", "test_stream_batch_task")
    redis_client.delete(f"{tag}:campaign:c1")
    redis_client.srem(f"{tag}:campaigns", "c1")


def test_nothing_live_for_the_day_is_a_skip_with_its_reason(stack_settings, warehouse):  # type: ignore[no-untyped-def]
    with pytest.raises(AirflowSkipException) as skipped:
        stream_batch_task("2001-01-01")
    assert str(skipped.value) == (
        "nothing to reconcile: no live ad counters for 2001-01-01 (the real-time job did not run that day)"
    )


def test_an_unreachable_counter_store_is_a_skip_naming_it(stack_settings, warehouse, monkeypatch):  # type: ignore[no-untyped-def]
    port = free_port()
    monkeypatch.setenv("WATERSHED_REDIS_PORT", str(port))
    monkeypatch.delenv("WATERSHED_REDIS_URL", raising=False)
    with pytest.raises(AirflowSkipException) as skipped:
        stream_batch_task(DAY)
    assert str(skipped.value).startswith(
        f"nothing to reconcile: the ad counter store (Redis at 127.0.0.1:{port}) is not reachable: "
    )


def test_agreeing_counters_pass_and_a_difference_fails_naming_it(stack_settings, warehouse, live):  # type: ignore[no-untyped-def]
    live(clicks=1)
    assert stream_batch_task(DAY) == {"date": DAY, "campaigns": 1, "agree": True}
    live(clicks=2)  # a second batch the mart does not hold: 10 impressions, 2 clicks, 0.07 more
    with pytest.raises(AirflowFailException) as failed:
        stream_batch_task(DAY)
    assert str(failed.value) == (
        f"stream vs batch {DAY}: 1 campaigns, 3 differences (campaign, figure: live counters / batch mart); "
        "  c1, impressions: 20 / 10;   c1, clicks: 3 / 1;   c1, cost: 0.14 / 0.07"
    )
