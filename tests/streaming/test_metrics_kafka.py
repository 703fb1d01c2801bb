"""With the real broker: the job's window metrics and ad counters for generated traffic equal an
independent batch recomputation of the same events; duplicates sent again change nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from simulator import GeneratorConfig, simulate
from simulator.wire import dumps, payloads
from spark_jobs.streaming import counters
from tests.streaming import recompute
from tests.streaming.conftest import event, run_available_now

WINDOW = timedelta(minutes=15)


@pytest.fixture(scope="module")
def traffic() -> list[dict]:
    simulation = simulate(GeneratorConfig(seed=7, days=1, events=3000))
    # as the events travel (exact decimals), so the recomputation reads what the job reads
    events = [json.loads(dumps(p), parse_float=Decimal) for p in payloads(simulation.events.table(), received_at=True)]
    for e in events[::50]:  # received 10 minutes after they occurred: late, and well within the watermark
        e["received_at"] = recompute._iso(recompute._at(e["occurred_at"]) + timedelta(minutes=10))
    return events


METRIC_KEYS = (
    "window_start",
    "window_end",
    "total_events",
    "unique_users",
    "purchases",
    "revenue",
    "purchasing_users",
    "site_users",
    "late_events",
    "buyer_share",
    "avg_session_duration_s",
)


def test_window_metrics_equal_a_batch_recomputation(spark, stack_settings, topics, tmp_path, traffic, redis_client):
    # every 40th event retried (same id) right after the original: dropped within the watermark
    topics.send([copy for i, e in enumerate(traffic) for copy in ([e, dict(e)] if i % 40 == 0 else [e])])
    config = topics.config(tmp_path, window="15 minutes", watermark="2 hours", max_offsets_per_trigger=1200)
    run_available_now(spark, stack_settings, config)
    last = max(e["occurred_at"] for e in traffic)
    flush = event("page_view", recompute._at(last) + timedelta(days=1), "flush")  # closes every window
    topics.send([flush])
    heartbeat = run_available_now(spark, stack_settings, config)

    expected = recompute.window_metrics(traffic, WINDOW)
    published = {m["window_start"]: {k: m[k] for k in METRIC_KEYS} for m in topics.read("real-time-metrics")}
    assert len(expected) >= 90
    assert published.keys() == expected.keys()
    for start, row in expected.items():
        got = published[start]
        mean = row["avg_session_duration_s"]
        assert got["avg_session_duration_s"] == (mean if mean is None else pytest.approx(mean, rel=1e-12)), start
        assert {**got, "avg_session_duration_s": None} == {**row, "avg_session_duration_s": None}, start

    lake = spark.read.parquet(config.metrics_table).drop("batch_id").collect()
    assert sorted(r["total_events"] for r in lake) == sorted(r["total_events"] for r in expected.values())
    assert sum(r["revenue"] for r in lake) == sum(Decimal(r["revenue"]) for r in expected.values())

    live = {c["campaign_id"]: c for c in counters.read(redis_client, config.counters_key)}
    want = recompute.ad_counters(traffic)
    assert {k: {f: live[k][f] for f in want[k]} for k in live} == want
    assert heartbeat["queries"]["metrics"]["dropped_by_watermark_total"] == 0
    assert sum(m["late_events"] for m in expected.values()) == len(traffic[::50])
