"""`watershed quality run` end to end on a lake on disk: exit codes, the report, the result
file, Data Docs, the Prometheus textfile, the webhook alert (a real HTTP server on loopback)
and the Airflow task helper."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.quality.conftest import START, as_bronze, generated, partition_time, with_lineage, write_partitions
from watershed.cli import main

DAY = START.replace(day=START.day + 1)


class Webhook:
    """A Slack-like incoming webhook on 127.0.0.1 that records every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/quality"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def env(tmp_path: Path, quality_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment the CLI reads: a lake of the test's own, the session's quality folder."""
    lake = tmp_path / "lake"
    monkeypatch.setenv("WATERSHED_ENV", "local")
    monkeypatch.setenv("WATERSHED_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WATERSHED_LAKE_URI", str(lake))
    monkeypatch.setenv("WATERSHED_QUALITY_DIR", str(quality_root / "cli"))
    for name in ("WATERSHED_QUALITY_WEBHOOK_URL", "WATERSHED_ALERT_WEBHOOK_URL", "WATERSHED_QUALITY_PUSHGATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    return lake


def land(lake: Path, **rates: float):  # type: ignore[no-untyped-def]
    """Generated events as bronze partitions (every day); the truth's faults in DAY's
    partition and its row count."""
    shutil.rmtree(lake, ignore_errors=True)
    data = generated(**rates)
    bronze = with_lineage(data, as_bronze(data.events))
    write_partitions(bronze.assign(_topic=bronze["kafka_topic"]), lake / "bronze", ["_topic", "dt", "hour"])
    on_day = partition_time(bronze).dt.date == DAY
    faults = data.faults[data.faults["position"].isin(bronze.index[on_day])]
    return faults, int(on_day.sum())


def test_clean_day_passes_with_exit_code_0(env: Path, quality_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    land(env)
    assert main(["quality", "run", "bronze", "--date", DAY.isoformat(), "--no-docs"]) == 0
    assert capsys.readouterr().out.startswith(f"checkpoint bronze for {DAY}: PASSED (")
    result = json.loads((quality_root / "cli" / "results" / "bronze" / f"dt={DAY}.json").read_text())
    assert (result["success"], result["score"], result["failed"]) == (True, 1.0, [])


def test_failing_day_exits_1_names_the_expectations_records_and_alerts(
    env: Path, quality_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    faults, _ = land(env, pii=0.03)
    fields = Counter(
        f for r in faults.loc[faults["kind"] == "pii", "reason"] for f in r.removeprefix("raw ").split(",")
    )
    with Webhook() as hook:
        monkeypatch.setenv("WATERSHED_QUALITY_WEBHOOK_URL", hook.url)
        code = main(["quality", "run", "bronze", "--date", DAY.isoformat()])
    captured = capsys.readouterr()
    assert code == 1
    assert f"checkpoint bronze failed for {DAY}: 3 of " in captured.err
    for field, n in fields.items():
        assert f"FAILED bronze.events/no_raw_pii:{field}: {n} of " in captured.out

    # the result file: every expectation, with counts and samples
    result_path = quality_root / "cli" / "results" / "bronze" / f"dt={DAY}.json"
    result = json.loads(result_path.read_text())
    assert result["success"] is False and result["date"] == DAY.isoformat()
    assert sorted(result["failed"]) == sorted(f"bronze.events/no_raw_pii:{f}" for f in fields)
    ip = next(e for e in result["expectations"] if e["name"] == "no_raw_pii:ip")
    assert ip["unexpected_count"] == fields["ip"] and len(ip["samples"]) == min(10, fields["ip"])
    assert result["score"] == pytest.approx(result["met"] / result["evaluated"])
    assert result["alert_sent"] is True

    # Data Docs: the site index and the rendered validation of this run
    docs = Path(result["data_docs"].removeprefix("file://"))
    assert docs.name == "index.html" and docs.exists()
    assert list(docs.parent.glob(f"validations/bronze/events/bronze-{DAY}/*/*.html"))

    # Prometheus textfile
    prom = (env.parent / "state" / "metrics" / "watershed_quality_bronze.prom").read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(prom)
        for s in family.samples
    }
    assert samples[("watershed_quality_score", (("checkpoint", "bronze"),))] == pytest.approx(result["score"])
    assert samples[("watershed_quality_success", (("checkpoint", "bronze"),))] == 0
    key = ("watershed_quality_unexpected_rows", (("checkpoint", "bronze"), ("expectation", "no_raw_pii:email"),
                                                 ("suite", "bronze.events")))  # fmt: skip
    assert samples[key] == fields["email"]
    # one series per expectation, 1 when it failed: what the alert rule QualityCheckpointFailed keys on
    failed = {
        dict(labels)["expectation"]: value
        for (name, labels), value in samples.items()
        if name == "watershed_quality_expectation_failed"
    }
    assert len(failed) == result["evaluated"]
    assert sorted(e for e, v in failed.items() if v == 1) == sorted(f"no_raw_pii:{f}" for f in fields)
    assert {dict(labels)["date"] for (name, labels) in samples if name == "watershed_quality_expectation_failed"} == {
        DAY.isoformat()
    }

    # the webhook got one Slack-compatible message naming each failed expectation and its count
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert set(body) == {"text", "blocks"} and body["blocks"][0]["text"]["text"] == body["text"]
    assert f"checkpoint bronze failed for {DAY}" in body["text"]
    for field, n in fields.items():
        assert f"bronze.events/no_raw_pii:{field}: {n} of " in body["text"]


def test_a_missing_partition_fails_has_rows(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "run", "silver", "--date", DAY.isoformat(), "--no-alert"]) == 1
    out = capsys.readouterr().out
    assert f"silver.events/has_rows: could not be evaluated: no rows: silver/events/dt={DAY}" in out
    assert "silver.sessions/has_rows" in out


def test_the_airflow_task_fails_without_retry_and_blocks_downstream(env: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from quality.tasks import checkpoint_task

    land(env, bot=0.2)  # the simulated crawlers are busiest on the first day
    with pytest.raises(AirflowFailException, match=r"bronze\.events/bot_share"):
        checkpoint_task("bronze", START.isoformat())
    land(env)
    summary = checkpoint_task("bronze", DAY.isoformat())
    assert summary["success"] is True and summary["failed"] == [] and summary["score"] == 1.0


def test_unknown_checkpoint_is_a_usage_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "run", "gold", "--date", DAY.isoformat()]) == 2
    assert "'gold' is not one of" in capsys.readouterr().err


def test_bronze_checkpoint_reads_an_s3_lake(stack_settings, tmp_path: Path, quality_root: Path) -> None:  # type: ignore[no-untyped-def]
    """The same partitions on the stack's S3 server (MinIO), read through pyarrow's S3
    filesystem, give the same failures as on disk."""
    import uuid

    from quality.runner import run_checkpoint
    from quality.settings import QualitySettings
    from watershed import lake

    prefix = f"quality-{uuid.uuid4().hex[:8]}"
    s3 = stack_settings.model_copy(update={"lake_uri": f"s3a://{stack_settings.s3_bucket}/{prefix}"})
    faults, rows = land(tmp_path / "lake", pii=0.03)
    client = lake.s3_client(stack_settings)
    for path in (tmp_path / "lake").rglob("*.parquet"):
        key = f"{prefix}/{path.relative_to(tmp_path / 'lake')}"
        client.upload_file(str(path), stack_settings.s3_bucket, key)

    outcome = run_checkpoint(
        "bronze",
        DAY,
        settings=s3,
        quality_settings=QualitySettings(dir=quality_root / "s3"),
        alert=False,
        data_docs=False,
    )
    fields = Counter(
        f for r in faults.loc[faults["kind"] == "pii", "reason"] for f in r.removeprefix("raw ").split(",")
    )
    assert {f.name: f.unexpected_count for f in outcome.failures} == {f"no_raw_pii:{f}": n for f, n in fields.items()}
    assert outcome.details["rows"] == {"bronze.events": rows}
