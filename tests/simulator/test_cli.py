"""`watershed generate` and `watershed contract` from the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from watershed.cli import main


def test_generate_writes_events_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "--out", str(tmp_path), "--users", "300", "--days", "2", "--seed", "4",
                 "--format", "ndjson", "--malformed-rate", "0.05", "--start-date", "2024-02-28"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "truth" / "summary.json").read_text())
    assert summary["human_users"] == 300
    assert summary["parameters"]["start_date"] == "2024-02-28"
    assert f"{summary['rows']} events" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "truth").iterdir()) == [
        "campaign_totals.parquet", "faults.parquet", "funnel_daily.parquet", "revenue_daily.parquet",
        "sessions.parquet", "summary.json",
    ]  # fmt: skip

    assert main(["contract", "validate", str(tmp_path / "events" / "part-00000.ndjson"), "--show", "0"]) == 1
    out = capsys.readouterr().out
    assert f"{summary['valid_events']} valid, {summary['faults']['malformed']} invalid" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "10", "--users", "10"], "give --events or --users, not both"),
        (["--late-rate", "0.7", "--malformed-rate", "0.5"], "must not exceed 1"),
        (["--bot-rate", "1.5"], "bot rate must be in [0, 1)"),
        (["--start-date", "tomorrow"], "expected YYYY-MM-DD or 'recent'"),
        (["--sink", "http", "--users", "5"], "no write key for source"),
    ],
)
def test_bad_options_get_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("WATERSHED_ENV", "prod")  # no development write keys
    for source in ("WEB_ANALYTICS", "USER_EVENTS", "TRANSACTION_DATA", "AD_PLATFORM"):
        monkeypatch.delenv(f"WATERSHED_WRITE_KEY_{source}", raising=False)
    assert main(["generate", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err


def test_recent_start_date_ends_yesterday() -> None:
    from simulator.cli import _start_date

    today = dt.datetime.now(dt.UTC).date()
    assert _start_date("recent", 7) == today - dt.timedelta(days=7)
    assert _start_date("2024-02-28", 7) == dt.date(2024, 2, 28)


def test_contract_check_passes_on_the_repository() -> None:
    assert main(["contract", "check"]) == 0
