"""The account-day writer: bronze keeps the responses as received, silver the contract rows, a
re-extraction replaces the account-day, and rows of another account-day are refused."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from extractors.lake import extraction_window, lookback_days, read_rows, write_account_day
from watershed.contract import AdPlatformDailyRow
from watershed.settings import Settings

D = date(2026, 11, 20)


def row(campaign: str, clicks: int, day: date = D, account: str = "4051987236") -> AdPlatformDailyRow:
    return AdPlatformDailyRow(
        date=day,
        platform="google_ads",
        account_id=account,
        account_name="Shop",
        campaign_id=campaign,
        campaign_name=f"Campaign {campaign}",
        impressions=100,
        clicks=clicks,
        cost=Decimal("1.250000"),
        conversions=1.5,
        conversion_value=Decimal("20.00"),
        currency="USD",
        time_zone="UTC",
    )


def test_a_re_extraction_replaces_the_account_day(tmp_path: Path) -> None:
    settings = Settings(lake_uri=str(tmp_path / "lake"))
    first = write_account_day(settings, "google_ads", "4051987236", D, [{"page": 1}], [row("1", 5), row("2", 6)])
    assert (first.rows, first.responses) == (2, 1)
    write_account_day(settings, "google_ads", "4051987236", D, [{"page": 1}, {"page": 2}], [row("1", 7)])

    assert read_rows(settings, "google_ads", D) == [row("1", 7)]
    account = "account=4051987236"  # pragma: allowlist secret
    folder = tmp_path / "lake" / "bronze/ad_platform/google_ads/dt=2026-11-20" / account
    assert [json.loads(line) for line in (folder / "responses.json").read_text().splitlines()] == [
        {"page": 1},
        {"page": 2},
    ]
    assert sorted(p.name for p in folder.parent.rglob("*")) == ["account=4051987236", "responses.json"]
    silver = tmp_path / "lake" / "silver/ad_platform/dt=2026-11-20"
    assert sorted(p.name for p in silver.iterdir()) == ["google_ads-4051987236.parquet"]


def test_rows_of_another_account_day_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(lake_uri=str(tmp_path / "lake"))
    with pytest.raises(ValueError, match=r"1 row\(s\) do not belong to google_ads/4051987236/2026-11-20: "
                       r"the first is google_ads/4051987236/2026-11-19 campaign 2"):  # fmt: skip
        write_account_day(settings, "google_ads", "4051987236", D, [], [row("1", 5), row("2", 5, date(2026, 11, 19))])
    assert not (tmp_path / "lake").exists() or list((tmp_path / "lake").rglob("*.parquet")) == []


def test_lookback_days_end_with_the_run_day() -> None:
    assert lookback_days(D, 3) == [date(2026, 11, 18), date(2026, 11, 19), D]
    with pytest.raises(ValueError, match="at least 1 day"):
        lookback_days(D, 0)


def test_an_extraction_window_is_the_lookback_or_contiguous_days() -> None:
    assert extraction_window(D, 2) == [date(2026, 11, 19), D]
    assert extraction_window(D, 2, [D, date(2026, 11, 19)]) == [date(2026, 11, 19), D]  # given days win, sorted
    with pytest.raises(ValueError, match=r"^days must be contiguous \(one query covers the window\)$"):
        extraction_window(D, 2, [D, date(2026, 11, 18)])
