"""Output files: byte-identical for a seed, the contract's schemas, realistic traffic."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator import FaultRates, GeneratorConfig, event_schema, generate
from watershed.contract import arrow_schema, validate_ad_platform_row

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
    rows = pq.read_table(dataset / "ad_platform", partitioning=None).to_pylist()
    assert rows and all(validate_ad_platform_row(r).ok for r in rows)
    over = duck.sql(
        """select count(*) from ad_platform a join campaign_totals t using (date, platform, campaign_id)
           where a.impressions < t.impressions or a.clicks < t.clicks or a.cost < t.cost"""
    ).fetchone()
    assert over == (0,)  # the platform reports everything it served; the stream loses malformed events


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
