"""Landing through the real broker: every record once, in its event-time folder, with lineage;
a replayed batch rewrites the same files; kill -9 mid-stream loses and duplicates nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.common.bronze import bronze_schema
from spark_jobs.landing.job import TOPICS, BronzeBatchWriter, LandingPaths, run_landing
from watershed import lake

WATERSHED = str(Path(sys.executable).parent / "watershed")
OCCURRED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def payload(event_id: str, occurred: datetime, received: datetime, event_type: str = "page_view", **extra) -> bytes:  # type: ignore[no-untyped-def]
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "source": "web_analytics",
        "user_id": "u1",
        "occurred_at": occurred.isoformat(),
        "received_at": received.isoformat(),
        "page_url": "https://shop.example/",
        **extra,
    }
    return json.dumps(body).encode()


def landed(spark, settings):  # type: ignore[no-untyped-def]
    frames = [
        spark.read.schema(bronze_schema()).option("basePath", lake.path(settings, "bronze", t)).parquet(uri)
        for t in TOPICS
        if Path((uri := lake.path(settings, "bronze", t)).removeprefix("file://")).exists()
    ]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def test_landing_puts_every_record_once_in_its_event_time_folder(spark, kafka_io, lake_settings):
    start = kafka_io.end_offsets(TOPICS)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    records = [
        ("user-events", "u1", payload(ids[0], OCCURRED, OCCURRED + timedelta(seconds=1))),
        ("user-events", "u1", payload(ids[1], OCCURRED + timedelta(hours=1), OCCURRED + timedelta(hours=1, seconds=2))),
        # arrives two hours after its hour closed: late, but still in its event-time folder
        ("user-events", "u1", payload(ids[2], OCCURRED, OCCURRED + timedelta(hours=2, minutes=30))),
        ("transaction-data", "u1", payload(ids[3], OCCURRED, OCCURRED, "purchase", revenue="9.90")),
        ("ad-events", None, payload(ids[4], OCCURRED, OCCURRED, "click", campaign_id="c1")),
        ("user-events", None, b"\x00 not json"),  # kept whole, in the folder of its Kafka timestamp
    ]
    acked = kafka_io.produce(records)

    report = run_landing(spark, lake_settings, starting_offsets=start)

    today = datetime.now(UTC)  # the Kafka timestamp of the unparseable record, for its folder only
    expected = [
        Row(kafka_topic=t, kafka_partition=p, kafka_offset=o, event_id=e, dt=d, hour=h, is_late=late, parse_error=err)
        for (t, p, o), e, d, h, late, err in zip(
            acked,
            [*ids, None],
            [date(2026, 11, 20)] * 5 + [today.date()],
            [9, 10, 9, 9, 9, today.hour],
            [False, False, True, False, False, False],
            [None] * 5 + ["unparseable_json"],
            strict=True,
        )
    ]
    columns = list(expected[0].asDict())
    bronze = landed(spark, lake_settings).select(columns)
    assertDataFrameEqual(bronze, spark.createDataFrame(expected, bronze.schema))
    raw = landed(spark, lake_settings).where(F.col("parse_error").isNotNull()).select("kafka_value").first()
    assert raw is not None and raw["kafka_value"].encode() == records[-1][2]

    # one file per folder and batch, named by the batch
    root = Path(lake.path(lake_settings, "bronze").removeprefix("file://"))
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
    batch = report["batches"][0]
    assert files == sorted(
        f"{t}/dt={d}/hour={h:02d}/part-{batch:010d}.zstd.parquet"
        for t, d, h in {
            ("user-events", "2026-11-20", 9),
            ("user-events", "2026-11-20", 10),
            ("transaction-data", "2026-11-20", 9),
            ("ad-events", "2026-11-20", 9),
            ("user-events", today.date().isoformat(), today.hour),
        }
    )
    assert (report["rows"], report["late"], report["unparseable"]) == (6, 1, 1)
    assert report["late_partitions"] == {"user-events/dt=2026-11-20/hour=09": 1}
    assert report["rows_by_topic"] == {"ad-events": 1, "transaction-data": 1, "user-events": 4}
    reports = list(Path(lake.path(lake_settings, "_reports", "landing").removeprefix("file://")).glob("run-*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["rows"] == 6

    # a second run finds nothing new and changes nothing
    again = run_landing(spark, lake_settings, starting_offsets=start)
    assert again["rows"] == 0
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet")) == files


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_landing" not in p.parts and not p.name.startswith(".")  # .crc: local checksums
    }


def test_a_replayed_batch_rewrites_the_same_files(spark, lake_settings):
    """What Spark does after a crash inside foreachBatch: the same batch id, the same offsets."""
    kafka = spark.createDataFrame(
        [
            (
                b"u1",
                payload(
                    str(uuid.UUID(int=i)), OCCURRED + timedelta(minutes=20 * i), OCCURRED + timedelta(minutes=20 * i)
                ),
                t,
                i % 2,
                i,
                OCCURRED,
            )
            for i, t in enumerate(["user-events", "user-events", "transaction-data", "user-events", "ad-events"])
        ],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    )
    paths = LandingPaths.of(lake_settings)
    root = Path(lake.path(lake_settings).removeprefix("file://"))
    first = BronzeBatchWriter(paths, clock=lambda: datetime(2026, 11, 20, 12, tzinfo=UTC))
    first(kafka, 7)
    before = _digests(root)
    # the first attempt "crashed" after publishing: a leftover staging file and a missing target
    (root / "bronze" / "_staging" / "batch=0000000007").mkdir(parents=True)
    (root / "bronze" / "_staging" / "batch=0000000007" / "junk.parquet").write_bytes(b"partial")
    victim = next(p for p in sorted(root.rglob("part-*.parquet")))
    victim.unlink()

    replay = BronzeBatchWriter(paths, clock=lambda: datetime(2026, 11, 20, 13, tzinfo=UTC))
    replay(kafka, 7)
    assert _digests(root) == before  # same names, same bytes (ingested_at reused), nothing extra
    assert len(before) == 4 and all("part-0000000007" in name for name in before)
    assert replay.summaries[0].replayed and replay.summaries[0].ingested_at == "2026-11-20T12:00:00+00:00"


def _batch_ids(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.glob("*") if p.name.isdigit()} if folder.exists() else set()


def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
    spark, kafka_io, lake_settings, stack_env, tmp_path
):
    start = kafka_io.end_offsets(TOPICS)

    def send(n: int, tag: str) -> list[tuple[str, int, int]]:
        base = OCCURRED + timedelta(minutes=len(tag))
        return kafka_io.produce(
            [
                (TOPICS[i % 3], f"u{i % 7}", payload(str(uuid.uuid4()), base + timedelta(seconds=i), base))
                for i in range(n)
            ]
        )

    acked = send(300, "before")
    env = {
        **os.environ,
        **stack_env,
        "WATERSHED_LAKE_URI": str(lake_settings.lake_uri),
        "WATERSHED_SPARK_DRIVER_MEMORY": "1g",
        "WATERSHED_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    log = (tmp_path / "land.log").open("w")
    command = [WATERSHED, "land", "--continuous", "--trigger-interval", "1 second"]
    command += ["--max-offsets-per-trigger", "60", "--starting-offsets", start]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    paths = LandingPaths.of(lake_settings)
    checkpoint = Path(paths.checkpoint.removeprefix("file://"))
    manifests = Path(paths.batches.removeprefix("file://"))
    killed_in_flight = None
    try:
        # kill while a batch is inside the writer (started, its manifest begun, not committed)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            started, committed = _batch_ids(checkpoint / "offsets"), _batch_ids(checkpoint / "commits")
            in_flight = sorted(started - committed)
            if len(committed) >= 2 and in_flight and (manifests / f"batch={in_flight[-1]:010d}.json").exists():
                killed_in_flight = in_flight[-1]
                break
            time.sleep(0.01)
        assert process.poll() is None, (tmp_path / "land.log").read_text()[-3000:]
        assert len(_batch_ids(checkpoint / "commits")) >= 2, (tmp_path / "land.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()

    after_kill = (sorted(_batch_ids(checkpoint / "offsets")), sorted(_batch_ids(checkpoint / "commits")))
    acked += send(100, "after the kill")
    report = run_landing(spark, lake_settings, starting_offsets=start)

    rows = landed(spark, lake_settings).select("kafka_topic", "kafka_partition", "kafka_offset").collect()
    offsets = [(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"]) for r in rows]
    assert len(offsets) == len(set(offsets)), "a record landed twice"
    assert sorted(offsets) == sorted(acked), "a record was lost (or one not produced by this test landed)"
    assert killed_in_flight is not None, "never caught a batch inside the writer"
    assert killed_in_flight in report["replayed_batches"], (killed_in_flight, after_kill, report)
