"""Landing bound to a data interval (spark_jobs/landing/bounds.py): the checkpoint's offsets, and
a run with --until that lands nothing once bronze holds everything received before it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from spark_jobs.landing.bounds import behind, last_committed, parse_offsets
from spark_jobs.landing.job import TOPICS, run_landing
from tests.spark_jobs.test_landing import OCCURRED, landed, payload

# what Spark 4 writes to <checkpoint>/offsets/3
OFFSET_LOG = """v1
{"batchWatermarkMs":0,"batchTimestampMs":1764979200000,"conf":{"spark.sql.shuffle.partitions":"1"}}
{"user-events":{"1":7,"0":12},"ad-events":{"0":3}}
"""


def test_the_offset_log_gives_the_next_offset_of_every_partition() -> None:
    assert parse_offsets(OFFSET_LOG) == {("user-events", 1): 7, ("user-events", 0): 12, ("ad-events", 0): 3}
    with pytest.raises(ValueError, match="not a Spark offset log entry"):
        parse_offsets('{"user-events":{"0":1}}')


def test_the_last_committed_batch_skips_hidden_and_temporary_files() -> None:
    names = ["file:/l/commits/0", "file:/l/commits/12", "file:/l/commits/.12.crc", "file:/l/commits/3.tmp"]
    assert last_committed(names) == 12
    assert last_committed([]) is None


def test_behind_names_each_partition_short_of_the_bound() -> None:
    committed = {("user-events", 0): 12, ("user-events", 1): 7}
    wanted = {("user-events", 0): 12, ("user-events", 1): 9, ("ad-events", 0): 2}
    assert behind(committed, wanted) == {("ad-events", 0): 0, ("user-events", 1): 7}
    assert behind(committed, {("user-events", 0): 11}) == {}


def test_a_run_bound_to_an_interval_already_landed_lands_nothing(spark, kafka_io, lake_settings):  # type: ignore[no-untyped-def]
    start = kafka_io.end_offsets(TOPICS)
    before = [("user-events", "u1", payload(str(uuid.uuid4()), OCCURRED, OCCURRED)) for _ in range(2)]
    kafka_io.produce(before)
    first = run_landing(spark, lake_settings, starting_offsets=start)
    assert first["rows"] == 2

    interval_end = datetime.now(UTC)
    time.sleep(0.05)  # the next record's Kafka timestamp is after the interval's end
    kafka_io.produce([("user-events", "u1", payload(str(uuid.uuid4()), OCCURRED, OCCURRED))])

    backfill = run_landing(spark, lake_settings, starting_offsets=start, until=interval_end, backfill=True)
    assert (backfill["rows"], backfill["batches"], backfill["until"]) == (0, [], interval_end.isoformat())
    assert backfill["skipped"] == "bronze already holds every record Kafka received before until"
    assert landed(spark, lake_settings).count() == 2  # the backfill did not pull in the later record

    scheduled = run_landing(spark, lake_settings, starting_offsets=start, until=interval_end)
    assert scheduled["rows"] == 1 and "skipped" not in scheduled  # a scheduled run catches up
    assert landed(spark, lake_settings).count() == 3
