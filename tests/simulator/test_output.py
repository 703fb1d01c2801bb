"""Output files: byte-identical for a seed, the contract's schemas, realistic traffic."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator import FaultRates, GeneratorConfig, event_schema, generate
from watershed.contract import arrow_schema, validate_ad_platform_row
from watershed.paths import dbt_project_dir

SMALL = GeneratorConfig(seed=5, days=2, events=4_000, faults=FaultRates(0.02, 0.02, 0.02, 0.02, 0.05, 0.02))


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_same_seed_same_bytes(tmp_path: Path, fmt: str) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    generate(SMALL, first, fmt=fmt)  # type: ignore[arg-type]
    generate(SMALL, second, fmt=fmt)  # type: ignore[arg-type]
    digests = _digests(first)
    assert f"events/part-00000.{fmt}" in digests and "truth/summary.json" in digests
    assert digests == _digests(second)


def test_another_seed_other_data(tmp_path: Path) -> None:
    generate(SMALL, tmp_path / "a")
    generate(GeneratorConfig(seed=6, days=2, events=4_000), tmp_path / "b")
    first = pq.read_table(tmp_path / "a" / "events")["event_id"].to_pylist()
    second = pq.read_table(tmp_path / "b" / "events")["event_id"].to_pylist()
    assert not set(first) & set(second)


def test_a_rerun_replaces_the_output(tmp_path: Path) -> None:
    generate(GeneratorConfig(seed=5, days=2, events=4_000), tmp_path, fmt="ndjson")
    generate(SMALL, tmp_path)
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["part-00000.parquet"]


def test_files_carry_the_contract_schemas(dataset: Path) -> None:
    assert pq.read_schema(dataset / "events" / "part-00000.parquet") == event_schema()
    for path in (dataset / "ad_platform").rglob("rows.parquet"):
        assert pq.read_schema(path) == arrow_schema("ad_platform_daily")
        assert path.parent.name.startswith("date=") and path.parent.parent.name in ("google_ads", "facebook_ads")


def test_ad_platform_rows_are_valid_and_cover_the_valid_stream(dataset: Path, duck: Any) -> None:
    """The platforms report every event they served, on the account's day in its currency; the
    stream (the truth's valid events, UTC and dollars) loses the malformed ones. Recomputed
    here in DuckDB: the valid ad events on each account's local day (ICU's time zones), their
    cost converted at the rates file's rate of that day."""
    rows = pq.read_table(dataset / "ad_platform", partitioning=None).to_pylist()
    assert rows and all(validate_ad_platform_row(r).ok for r in rows)
    assert {(r["platform"], r["currency"], r["time_zone"]) for r in rows} == {
        ("google_ads", "GBP", "Europe/London"), ("facebook_ads", "EUR", "Europe/Berlin")
    }  # fmt: skip
    rates = dbt_project_dir() / "seeds" / "ads" / "currency_rates.csv"
    short = duck.sql(
        f"""
        with accounts as (select distinct platform, time_zone, currency from ad_platform),
        rates as (
            select from_currency, valid_from, rate,
                lead(valid_from) over (partition by from_currency order by valid_from) as valid_until
            from read_csv('{rates}', header = true) where to_currency = 'USD'
        ),
        valid as (
            select * from events where position not in (select position from faults where kind = 'malformed')
            qualify row_number() over (partition by event_id order by received_at, position) = 1
        ),
        stream as (
            select timezone(accounts.time_zone, occurred_at)::date as date, valid.platform, campaign_id,
                count(*) filter (event_type = 'impression') as impressions,
                count(*) filter (event_type = 'click') as clicks,
                coalesce(sum(cost), 0) as cost_usd
            from valid join accounts using (platform) where campaign_id is not null group by all
        )
        select stream.*, a.impressions, a.clicks, a.cost * rates.rate as reported_usd
        from stream
        left join ad_platform a using (date, platform, campaign_id)
        left join rates on rates.from_currency = a.currency and a.date >= rates.valid_from
            and (rates.valid_until is null or a.date < rates.valid_until)
        where a.impressions is null or a.impressions < stream.impressions or a.clicks < stream.clicks
            or a.cost * rates.rate < stream.cost_usd - 0.000001 * rates.rate
        """
    ).fetchall()
    assert short == []
    # an hour of Berlin's day after the window (23:00 UTC of the window's last day) is reported
    last = duck.sql("select max(date) from campaign_totals").fetchone()[0]
    assert {r["platform"] for r in rows if r["date"] > last} == {"facebook_ads"}


def test_traffic_looks_like_a_shop(duck: Any, summary: dict[str, Any]) -> None:
    funnel = duck.sql(
        """select sum(sessions), sum(sessions_with_product_view), sum(sessions_with_add_to_cart),
                  sum(sessions_with_begin_checkout), sum(sessions_with_purchase)
           from funnel_daily where not is_bot"""
    ).fetchone()
    sessions, viewed, carted, checked_out, bought = funnel
    assert sessions > viewed > carted > checked_out > bought > 0
    assert 0.01 < bought / sessions < 0.08
    long_gaps = duck.sql(
        """select count(*) from (select occurred_at - lag(occurred_at) over (partition by user_id order by occurred_at)
           as gap from events where user_id is not null) where gap > interval 30 minutes"""
    ).fetchone()
    assert long_gaps[0] > 0
    assert summary["events_by_type"]["refund"] > 0 and summary["events_by_type"]["conversion"] > 0
    order_value = float(summary["revenue"]) / summary["orders"]
    assert 20 < order_value < 400


def test_split_files_hold_the_same_rows(tmp_path: Path) -> None:
    """Blocks are built and written one at a time; together they are the single-file table."""
    from simulator import FileSink

    generate(SMALL, tmp_path / "one")
    generate(SMALL, tmp_path / "many", FileSink(tmp_path / "many", "parquet", rows_per_file=1_000))
    parts = sorted((tmp_path / "many" / "events").iterdir())
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(len(parts))] and len(parts) == 5
    assert pq.read_table(parts[0]).num_rows == 1_000
    assert pq.read_table(tmp_path / "many" / "events").equals(pq.read_table(tmp_path / "one" / "events"))
