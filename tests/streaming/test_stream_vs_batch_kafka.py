"""Stream and batch agree, from the same events: generated traffic (duplicates, bots, out of order)
goes to a real Kafka broker once; the real-time job counts its ad events into Redis per day, and
the batch path reads the same topics -> bronze -> silver -> the warehouse -> dbt's
ad_events_daily. For every day both equal a Python recount of the events sent, and
`watershed quality stream-vs-batch` agrees; a planted difference is reported to the figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from quality import stream_batch
from simulator import FaultRates, GeneratorConfig, simulate
from spark_jobs.streaming import counters
from tests.streaming import recompute
from tests.streaming.conftest import event, run_available_now
from tests.warehouse.conftest import Warehouse

WATERSHED = str(Path(sys.executable).parent / "watershed")
CONFIG = GeneratorConfig(
    seed=41,
    days=2,
    events=3_000,
    faults=FaultRates(duplicate=0.03, late=0.0, out_of_order=0.02, malformed=0.0, bot=0.03, pii=0.0),
)
DAYS = [CONFIG.start_date + timedelta(days=i) for i in range(CONFIG.days)]


def _payloads() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The payloads as sent, and as JSON reads them back (money as exact decimal strings)."""
    from simulator.wire import dumps, payloads

    sent = list(payloads(simulate(CONFIG).events.table(), received_at=True))
    return sent, [json.loads(dumps(p), parse_float=str) for p in sent]


def _batch(spark: Any, settings: Any, prefix: str, wh: Warehouse) -> None:
    """The daily path on the same topics: landing (one batch), sessionize and gold per day, load, dbt."""
    from pyspark.sql import functions as F

    from spark_jobs.batch.jobs.gold import run_gold
    from spark_jobs.batch.jobs.sessionize import run_sessionize
    from spark_jobs.landing.job import BronzeBatchWriter, LandingPaths
    from spark_jobs.streaming.config import SOURCE_TOPICS

    records = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", ",".join(prefix + t for t in SOURCE_TOPICS))
        .option("startingOffsets", "earliest")
        .load()
        .select("key", "value", F.expr(f"substring(topic, {len(prefix) + 1})").alias("topic"), "partition",
                "offset", "timestamp")
    )  # fmt: skip
    BronzeBatchWriter(LandingPaths.of(settings))(records, 0)
    for day in DAYS:
        run_sessionize(spark, settings, day)
        run_gold(spark, settings, day)
        wh.load(day)
    wh.build()


def _figures(rows: list[dict[str, Any]]) -> dict[str, tuple]:
    return {
        r["campaign_id"]: tuple(str(r[f]) for f in ("impressions", "clicks", "conversions", "cost", "revenue"))
        for r in rows
    }


def test_live_counters_equal_the_batch_mart_for_each_day(spark, stack_settings, topics, redis_client, tmp_path):
    sent, traffic = _payloads()
    flush = event("page_view", recompute._at(max(e["occurred_at"] for e in traffic)) + timedelta(days=1), "flush")
    topics.send([*sent, flush])

    config = topics.config(tmp_path / "stream")
    run_available_now(spark, stack_settings, config)

    wh = Warehouse(tmp_path, stack_settings.model_copy(update={
        "lake_uri": str(tmp_path / "lake"), "duckdb_path": tmp_path / "wh.duckdb", "state_dir": tmp_path,
    }))  # fmt: skip
    _batch(spark, wh.settings, topics.prefix, wh)

    for day in DAYS:
        sent = [e for e in traffic if e["occurred_at"].startswith(day.isoformat())]
        want = _figures([{"campaign_id": c, **v} for c, v in recompute.ad_counters(sent).items()])
        live = counters.read(redis_client, config.counters_key, day=day.isoformat())
        batch = stream_batch.batch_rows(wh.settings, "marts", day)
        assert len(want) >= 5  # campaigns with ad events that day
        assert _figures(live) == want, day
        assert {c: tuple(str(x) for x in v) for c, v in _figures(batch).items()} == want, day
        assert stream_batch.compare(day, live, batch).to_dict() == {
            "date": day.isoformat(), "campaigns": len(want), "agree": True, "differences": [],
        }  # fmt: skip

    env = {**os.environ, "WATERSHED_DUCKDB_PATH": str(wh.settings.duckdb_file)}

    def cli(day: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [WATERSHED, "quality", "stream-vs-batch", "--date", day, "--counters-key", config.counters_key],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip

    first = DAYS[0].isoformat()
    result = cli(first)
    assert result.returncode == 0, result.stderr
    n = len(counters.read(redis_client, config.counters_key, day=first))
    assert result.stdout == f"stream vs batch {first}: {n} campaigns, the live counters equal ad_events_daily\n"

    # a click the stream counted twice (as a replay without the batch-id guard would)
    campaign = sorted(_figures(counters.read(redis_client, config.counters_key, day=first)))[0]
    clicks = int(_figures(counters.read(redis_client, config.counters_key, campaign, day=first))[campaign][1])
    redis_client.hincrby(f"{{{config.counters_key}}}:day:{first}:campaign:{campaign}", "clicks", 1)
    result = cli(first)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"stream vs batch {first}: {n} campaigns, 1 differences (campaign, figure: live counters / batch mart)",
        f"  {campaign}, clicks: {clicks + 1} / {clicks}",
    ]
    assert result.stderr == f"Error: stream and batch differ for {first}: 1 figures\n"
    second = json.loads(
        subprocess.run(
            [WATERSHED, "quality", "stream-vs-batch", "--date", DAYS[1].isoformat(), "--counters-key",
             config.counters_key, "--json"], capture_output=True, text=True, timeout=120, env=env, check=True,
        ).stdout
    )  # fmt: skip
    assert second["agree"] is True and second["differences"] == []
