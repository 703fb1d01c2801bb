"""With the real broker: `watershed stream run` killed with SIGKILL mid-run and restarted resumes
from its checkpoints without double counting: the final window metrics and ad counters equal
those of the batch recomputation (which an uninterrupted run equals, test_metrics_kafka)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from simulator import GeneratorConfig, simulate
from simulator.wire import dumps, payloads
from spark_jobs.streaming import counters
from spark_jobs.streaming.state import read_json
from tests.streaming import recompute
from tests.streaming.conftest import event
from watershed.stack.process import free_port

WINDOW = timedelta(minutes=15)


def start(topics, home: Path, *extra: str) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    command = [
        sys.executable, "-m", "watershed.cli", "stream", "run", "--home", str(home),
        "--topic-prefix", topics.prefix, "--window", "15 minutes", "--watermark", "2 hours",
        "--metrics-table", (home / "realtime_metrics").as_uri(), *extra,
    ]  # fmt: skip
    env = {**os.environ, "WATERSHED_SPARK_DRIVER_MEMORY": "1g", "WATERSHED_SPARK_SHUFFLE_PARTITIONS": "1",
           "WATERSHED_REALTIME_UI_PORT": str(free_port())}  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(home / "job.err", "ab"))


def test_kill_9_and_restart_do_not_double_count(stack_settings, topics, tmp_path, redis_client):
    simulation = simulate(GeneratorConfig(seed=11, days=1, events=1200))
    traffic = [json.loads(dumps(p), parse_float=Decimal) for p in payloads(simulation.events.table(), received_at=True)]
    # the day in 48 half-hour chunks, each sent to every topic before the next (event time moves
    # forward together on all partitions, as it does live); the job is killed while they arrive
    chunks: list[list[dict]] = [[] for _ in range(48)]
    for e in traffic:
        at = recompute._at(e["occurred_at"])
        chunks[min(47, (at.hour * 60 + at.minute) // 30)].append(e)
    job = start(topics, tmp_path, "--trigger", "1 second")
    sent = 0
    deadline = time.monotonic() + 240
    while read_json(tmp_path / "heartbeat.json").get("queries", {}).get("metrics", {}).get("last_batch_id", -1) < 1:
        assert job.poll() is None, (tmp_path / "job.err").read_text()[-2000:]
        assert time.monotonic() < deadline, "the job did not get going"
        if read_json(tmp_path / "heartbeat.json").get("status") == "running" and sent < 24:  # queries started
            topics.send(chunks[sent])  # at most half the day before the kill, however slow the machine
            sent += 1
        time.sleep(1.0)
    os.kill(job.pid, signal.SIGKILL)  # mid-run: most of the day has not even arrived yet
    job.wait()
    for chunk in chunks[sent:]:
        topics.send(chunk)

    flush = event("page_view", recompute._at(max(e["occurred_at"] for e in traffic)) + timedelta(days=1), "flush")
    topics.send([flush])
    restarted = start(topics, tmp_path, "--available-now")
    assert restarted.wait(timeout=180) == 0, (tmp_path / "job.err").read_text()[-2000:]

    expected = recompute.window_metrics(traffic, WINDOW)
    records = topics.read("real-time-metrics")
    by_window: dict[str, dict] = {}
    for record in records:  # a batch cut by the kill may have been published twice: same values
        values = {k: v for k, v in record.items() if k in expected[record["window_start"]]}
        assert by_window.setdefault(record["window_start"], values) == values
    assert by_window.keys() == expected.keys()
    for start_at, row in expected.items():
        got, mean = by_window[start_at], row["avg_session_duration_s"]
        assert (got["avg_session_duration_s"] is None) == (mean is None)
        if mean is not None:
            assert abs(got["avg_session_duration_s"] - mean) <= 1e-9 * mean
        assert {**got, "avg_session_duration_s": 0} == {**row, "avg_session_duration_s": 0}, start_at

    lake = [json.loads(line) for line in _lake_rows(tmp_path / "realtime_metrics")]
    assert sorted(r["total_events"] for r in lake) == sorted(r["total_events"] for r in expected.values())

    assert read_json(tmp_path / "heartbeat.json")["queries"]["metrics"]["dropped_by_watermark_total"] == 0
    # `stream run --topic-prefix P` keeps its counters under watershed:<P>ad_counters in Redis
    live = {c["campaign_id"]: c for c in counters.read(redis_client, f"watershed:{topics.prefix}ad_counters")}
    want = recompute.ad_counters(traffic)
    assert {k: {f: live[k][f] for f in want[k]} for k in live} == want


def _lake_rows(folder: Path) -> list[str]:
    """The metrics table's rows as JSON lines, read with DuckDB (independent of Spark)."""
    import duckdb

    table = duckdb.sql(f"select total_events from read_parquet('{folder}/*/*.parquet')")
    return [json.dumps({"total_events": row[0]}) for row in table.fetchall()]
