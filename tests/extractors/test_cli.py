"""`watershed ads extract` as an operator runs it: against `watershed fake-ad-api` in another
process, configured only by the variables the fake writes (the TLS trust of Google's gRPC
channel included), and the configuration errors it gives before any call."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from extractors.cli import ExtractionFailed, extract_platform
from extractors.lake import read_rows
from extractors.settings import load_ad_settings
from watershed.contract import AdPlatformDailyRow
from watershed.envfile import read_env_file
from watershed.settings import Settings
from watershed.stack.process import free_port

BIN = Path(sys.executable).parent
START, END = date(2026, 11, 1), date(2026, 11, 2)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("WATERSHED_", "GRPC_"))}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    args = ["--out", str(out), "--events", "3000", "--days", "2", "--start-date", START.isoformat()]
    subprocess.run([str(BIN / "watershed"), "generate", *args], env=_clean_env(), check=True, capture_output=True)
    return out


@contextlib.contextmanager
def _serving(generated: Path, env_file: Path, *options: str) -> Iterator[dict[str, str]]:
    fake = subprocess.Popen(
        [str(BIN / "watershed"), "fake-ad-api", "--generated", str(generated), "--env-file", str(env_file), *options],
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists():
            assert fake.poll() is None, fake.stderr.read().decode() if fake.stderr else "the fake exited"
            assert time.monotonic() < deadline, "the fake wrote no env file within 60 s"
            time.sleep(0.1)
        yield read_env_file(env_file)
    finally:
        fake.terminate()
        fake.wait(10)


@pytest.fixture(scope="module")
def fake_env(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with _serving(generated, tmp_path_factory.mktemp("fake") / "fake.env") as env:
        yield env


def test_a_fake_bound_for_its_neighbours_names_its_public_host(generated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """As compose runs it: every port fixed, bound to 0.0.0.0, named by the host clients use (here
    127.0.0.1, in the certificate too), its CA in a chosen folder; the extraction trusts it through
    WATERSHED_ADS_GOOGLE_ROOTS_FILE alone, and the env file is gone once the fake stops."""
    ports = [free_port(p) for p in (38701, 38702, 38703)]
    options = ["--host", "0.0.0.0", "--public-host", "127.0.0.1", "--tls-dir", str(tmp_path / "tls"),
               "--port", str(ports[0]), "--google-port", str(ports[1]), "--token-port", str(ports[2])]  # fmt: skip
    env_file = tmp_path / "fake.env"
    with _serving(generated, env_file, *options) as fake:
        assert (fake["WATERSHED_ADS_META_GRAPH_URL"], fake["WATERSHED_ADS_GOOGLE_ENDPOINT"]) == (
            f"http://127.0.0.1:{ports[0]}",
            f"127.0.0.1:{ports[1]}",
        )
        assert fake["WATERSHED_ADS_GOOGLE_TOKEN_URI"] == f"http://127.0.0.1:{ports[2]}/token"
        assert fake["WATERSHED_ADS_GOOGLE_ROOTS_FILE"] == str(tmp_path / "tls" / "roots.pem")
        env = _clean_env() | {k: v for k, v in fake.items() if not k.startswith("GRPC_")}
        env |= {"WATERSHED_LAKE_URI": str(tmp_path / "lake")}
        done = subprocess.run(
            [str(BIN / "watershed"), "ads", "extract", "--date", END.isoformat(), "--lookback-days", "2"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert [report[p]["account_days_written"] for p in ("google_ads", "facebook_ads")] == [2, 2]
    assert not env_file.exists()


def _key(row: AdPlatformDailyRow) -> tuple[date, str]:
    return row.date, row.campaign_id


def _generated_rows(generated: Path, platform: str) -> list[dict[str, Any]]:
    """The generated rows of START..END (Berlin's day after the window holds its last UTC hour)."""
    files = sorted((generated / "ad_platform" / platform).glob("*/rows.parquet"))
    return [r for path in files for r in pq.read_table(path).to_pylist() if START <= r["date"] <= END]


def test_the_extraction_reads_both_fakes_from_their_env_file_alone(fake_env, generated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert set(fake_env) >= {"WATERSHED_ADS_GOOGLE_ENDPOINT", "WATERSHED_ADS_META_GRAPH_URL"}
    assert Path(fake_env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    env = _clean_env() | fake_env | {"WATERSHED_LAKE_URI": str(tmp_path / "lake")}
    done = subprocess.run(
        [str(BIN / "watershed"), "ads", "extract", "--date", END.isoformat(), "--lookback-days", "2"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)

    settings = Settings(lake_uri=str(tmp_path / "lake"))
    for platform, account in (("google_ads", "4051987236"), ("facebook_ads", "1020304050607080")):
        served = _generated_rows(generated, platform)
        assert report[platform] == {
            "platform": platform,
            "accounts": [account],
            "days": [START.isoformat(), END.isoformat()],
            "account_days_written": 2,
            "rows": len(served),
            "api_calls": report[platform]["api_calls"],
            "retries": 0,
            "waited_seconds": 0,
        }
        got = sorted((r for day in (START, END) for r in read_rows(settings, platform, day)), key=_key)
        assert got == sorted((AdPlatformDailyRow.model_validate(r) for r in served), key=_key)
    assert report["google_ads"]["api_calls"] == 2  # the customer, then one stream for the window


def test_a_platform_without_accounts_is_skipped_and_missing_credentials_fail_unretried(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WATERSHED_STATE_DIR", str(tmp_path))  # no running stack's fake.env is read
    settings = Settings(lake_uri=str(tmp_path / "lake"))
    assert extract_platform("google_ads", settings, load_ad_settings(), END) == {
        "platform": "google_ads",
        "skipped": "no WATERSHED_ADS_GOOGLE_CUSTOMER_IDS",
    }
    ad = load_ad_settings(google_customer_ids=["123-456-7890"], google_client_id="id.apps.googleusercontent.com")
    with pytest.raises(ExtractionFailed) as failed:
        extract_platform("google_ads", settings, ad, END)
    assert str(failed.value) == (
        "WATERSHED_ADS_GOOGLE_DEVELOPER_TOKEN, WATERSHED_ADS_GOOGLE_CLIENT_SECRET, WATERSHED_ADS_GOOGLE_REFRESH_TOKEN"
        " not set (the developer token and an OAuth client)"
    )
    assert failed.value.retryable is False
    assert not (tmp_path / "lake").exists()
