"""`airflow dags test ad_campaign_daily D` end to end: the real google-ads client against the fake
Google Ads API over gRPC with TLS, the real facebook-business client against the fake Graph API
over HTTP, the lake, the ads checkpoint, the DuckDB load, dbt and the ad marts checkpoint. The
marts are compared with an independent recomputation (Python's statistics.median over the rows
the fakes serve, converted with the rates file read here), and a second run leaves every ad mart
row as it was. The accounts report in pounds (London) and euros (Berlin), and the window crosses
the first of a month, where the rates file changes both rates."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from simulator.config import GeneratorConfig
from simulator.fakes.cli import connection_env
from simulator.fakes.google_ads import FakeGoogleAds
from simulator.fakes.meta_ads import FakeMetaAds
from simulator.simulate import simulate
from watershed.contract import AdPlatformDailyRow

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START, DAYS = date(2026, 11, 30), 3
DS = START + timedelta(days=DAYS - 1)


class Fakes:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.meta = FakeMetaAds(rows).start()
        self.google = FakeGoogleAds(rows).start()

    def rows(self, start: date, end: date) -> list[AdPlatformDailyRow]:
        return self.meta.rows(start, end) + self.google.rows(start, end)


@pytest.fixture(scope="module")
def fake() -> Iterator[Fakes]:
    rows = simulate(GeneratorConfig(events=20_000, days=DAYS, start_date=START)).ad_platform_rows.to_pylist()
    fakes = Fakes(rows)
    yield fakes
    fakes.meta.stop()
    fakes.google.stop()


@pytest.fixture(scope="module")
def env(fake: Fakes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("ad-dag")
    out = {k: v for k, v in os.environ.items() if not k.startswith(("WATERSHED_", "AIRFLOW"))}
    # the credentials as Airflow connections (AIRFLOW_CONN_*), not WATERSHED_ADS_* settings
    out |= connection_env(fake.meta, fake.google) | {
        "WATERSHED_STATE_DIR": str(root / "state"),
        "WATERSHED_LAKE_URI": str(root / "lake"),
        "WATERSHED_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "WATERSHED_ADS_META_LOOKBACK_DAYS": str(DAYS),
        "WATERSHED_ADS_GOOGLE_LOOKBACK_DAYS": str(DAYS),
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return out


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


MARTS = ("ad_reporting__campaign_report", "campaign_performance_summary", "campaign_roas_daily")


def _marts(env: dict[str, str]) -> dict[str, Any]:
    """Every ad mart's rows, and campaign_performance_summary's as dicts ("summary_records")."""
    with duckdb.connect(env["WATERSHED_DUCKDB_PATH"], read_only=True) as con:
        out: dict[str, Any] = {
            name: con.execute(f"select * from marts.{name} order by all").fetchall() for name in MARTS
        }
        frame = con.execute("select * from marts.campaign_performance_summary").df()
    out["summary_records"] = [
        {k: (None if v != v else v) for k, v in r.items()}  # NaN (a null float) -> None
        for r in frame.to_dict("records")
    ]
    for r in out["summary_records"]:
        r["date_day"] = r["date_day"].date() if hasattr(r["date_day"], "date") else r["date_day"]
    return out


@pytest.fixture(scope="module")
def runs(env: dict[str, str]) -> list[dict[str, Any]]:
    """The DAG run twice for DS, the ad marts after each."""
    _run(env, "watershed", "warehouse", "build")  # the shop's marts exist (empty): ROAS reads them
    _run(env, "airflow", "db", "migrate")
    _run(env, "airflow", "pools", "set", "ad_platform_api", "2", "ad platform API calls")
    out = []
    for _ in range(2):
        logs = _run(env, "airflow", "dags", "test", "ad_campaign_daily", DS.isoformat())
        out.append(_marts(env) | {"logs": logs})
    return out


def test_credentials_come_from_the_connections_and_never_reach_the_logs(runs, fake) -> None:  # type: ignore[no-untyped-def]
    logs = runs[0]["logs"]
    assert "ad platform credentials: Airflow connections google_ads_default, facebook_default" in logs
    secrets = [fake.meta.access_token, fake.google.developer_token, fake.google.client_secret, fake.google.access_token,
               fake.google.refresh_token]  # fmt: skip
    assert [s for s in secrets if s in logs] == []


def _ratio(a: float, b: float) -> float | None:
    return None if not b else a / b


def _usd_rate(currency: str, day: date) -> Decimal:
    """The rates file's rate of the day: the last row of the pair at or before it."""
    with (ROOT / "dbt" / "seeds" / "ads" / "currency_rates.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r["from_currency"], r["to_currency"]) == (currency, "USD")]
    return max((date.fromisoformat(r["valid_from"]), Decimal(r["rate"])) for r in rows
               if date.fromisoformat(r["valid_from"]) <= day)[1]  # fmt: skip


def _usd(amount: Decimal, rate: Decimal, places: str) -> Decimal:
    return (amount * rate).quantize(Decimal(places), ROUND_HALF_UP)


def test_the_report_holds_exactly_the_rows_the_platform_served_in_dollars(runs, fake) -> None:  # type: ignore[no-untyped-def]
    served = sorted(
        (r.date, r.platform.value, r.account_id, r.account_name, r.campaign_id, r.campaign_name, r.clicks,
         r.impressions, _usd(r.cost, rate, "0.000001"), r.conversions, _usd(r.conversion_value, rate, "0.01"), "USD",
         r.currency, r.time_zone, rate, r.cost, r.conversion_value)
        for r in fake.rows(START, DS)
        for rate in [_usd_rate(r.currency, r.date)]
    )  # fmt: skip
    assert {(r[1], r[0]) for r in served} == {
        (platform, START + timedelta(days=n)) for platform in ("facebook_ads", "google_ads") for n in range(DAYS)
    }  # both platforms, every day
    assert {(r[12], r[13]) for r in served} == {("GBP", "Europe/London"), ("EUR", "Europe/Berlin")}
    assert len({r[14] for r in served}) == 4  # two currencies, each at two rates (the window spans a month's first)
    assert runs[0]["ad_reporting__campaign_report"] == served


def test_rates_and_medians_equal_an_independent_recomputation(runs, fake) -> None:  # type: ignore[no-untyped-def]
    rows = fake.rows(START, DS)
    rates = {
        (r.date, r.platform.value, r.campaign_id): {
            "ctr": _ratio(r.clicks, r.impressions),
            "cpc": _ratio(float(spend), r.clicks),
            "cvr": _ratio(r.conversions, r.clicks),
            "cpa": _ratio(float(spend), r.conversions),
        }
        for r in rows
        for spend in [_usd(r.cost, _usd_rate(r.currency, r.date), "0.000001")]
    }
    medians = {}  # per date and platform
    for day, platform in {(d, p) for d, p, _ in rates}:
        for metric in ("ctr", "cpc", "cvr", "cpa"):
            values = [
                v[metric] for (d, p, _), v in rates.items() if (d, p) == (day, platform) and v[metric] is not None
            ]
            medians[day, platform, metric] = statistics.median(values) if values else None

    summary = runs[0]["summary_records"]
    assert len(summary) == len(rows)
    got = {(r["date_day"], r["platform"], r["campaign_id"]): r for r in summary}
    for key, expected in rates.items():
        for metric, value in expected.items():
            assert got[key][metric] == pytest.approx(value), (key, metric)
            assert got[key][f"median_{metric}"] == pytest.approx(medians[key[0], key[1], metric]), (key, metric)
            if value is None or medians[key[0], key[1], metric] is None:
                assert got[key][f"{metric}_performance"] is None
    flags = {r[f"{m}_performance"] for r in got.values() for m in ("ctr", "cpa")}
    assert {"above_benchmark", "below_benchmark"} <= flags  # the benchmark separates campaigns


def test_a_second_run_leaves_every_ad_mart_row_as_it_was(runs) -> None:  # type: ignore[no-untyped-def]
    def hashes(marts: dict[str, Any]) -> dict[str, list[str]]:
        return {
            name: sorted(hashlib.sha256(repr(r).encode()).hexdigest() for r in rows)
            for name, rows in marts.items()
            if name in MARTS
        }

    assert hashes(runs[0]) == hashes(runs[1])
    assert all(runs[0][name] for name in MARTS)


def test_the_checkpoints_passed_and_the_lake_has_every_day(runs, env) -> None:  # type: ignore[no-untyped-def]
    quality = Path(env["WATERSHED_STATE_DIR"]) / "quality" / "results"
    for checkpoint in ("ads", "ad_marts"):
        result = json.loads((quality / checkpoint / f"dt={DS}.json").read_text())
        assert result["success"] is True, (checkpoint, result.get("failed"))
    lake = Path(env["WATERSHED_LAKE_URI"])
    silver = sorted(p.relative_to(lake / "silver/ad_platform").as_posix() for p in lake.rglob("silver/**/*.parquet"))
    assert silver == [
        f"dt={START + timedelta(days=n)}/{platform}-{account}.parquet"
        for n in range(DAYS)
        for platform, account in (("facebook_ads", "1020304050607080"), ("google_ads", "4051987236"))
    ]


def test_the_exporter_reads_the_runs_from_airflows_own_database(runs, env) -> None:  # type: ignore[no-untyped-def]
    """Airflow's real metadata schema (the runs above wrote it): one successful run (`airflow dags
    test` of the same date again replaces its run), the last one's duration, no failed task;
    counted here independently with sqlite3."""
    import sqlite3

    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as con:
        (succeeded,) = con.execute(
            "select count(*) from dag_run where dag_id = 'ad_campaign_daily' and state = 'success'"
        ).fetchone()
    assert succeeded == 1
    sample = _run(
        env | {"WATERSHED_MONITORING_AIRFLOW_DB_URL": f"sqlite:///{database}"}, "watershed", "monitor", "sample"
    )
    lines = dict(line.rsplit(" ", 1) for line in sample.splitlines() if line.startswith("pipeline_"))
    assert lines['pipeline_success_total{pipeline="ad_campaign_daily"}'] == f"{succeeded}.0"
    assert lines['pipeline_failure_total{pipeline="ad_campaign_daily"}'] == "0.0"
    assert lines['pipeline_last_run_success{pipeline="ad_campaign_daily"}'] == "1.0"
    assert lines['pipeline_task_failures_total{pipeline="ad_campaign_daily"}'] == "0.0"
    assert 1 < float(lines['pipeline_duration_seconds{pipeline="ad_campaign_daily"}']) < 600
    assert 'watershed_exporter_source_up{source="airflow"} 1.0' in sample
