"""Every valid event is owned by exactly one day's silver, whatever the order the days run in:
three days of bronze (a visit across two midnights, sessions straddling both day boundaries, a
sessionless refund, a retry, a malformed event) sessionized in order and as a backfill in another
order (D+1, D-1, D), in two local lakes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from spark_jobs.batch.jobs.sessionize import run_sessionize
from spark_jobs.landing.job import BronzeBatchWriter, LandingPaths
from tests.spark_jobs.test_jobs import _digests, event, uid
from watershed import lake
from watershed.contract.semantics import session_id
from watershed.settings import Settings

D = date(2026, 11, 20)


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


KIOSK = [t(19, 8) + timedelta(minutes=20 * i) for i in range(127)]  # 08:00 on D-1 to 02:00 on D+1
EVENTS = [
    *(event(f"kiosk-{i:03d}", "kiosk", at) for i, at in enumerate(KIOSK)),
    event("u2-a", "u2", t(20, 23, 50)),  # a session of D ...
    event("u2-b", "u2", t(21, 0, 15)),  # ... continuing on D+1
    event("u3-a", "u3", t(19, 23, 45)),  # a session of D-1 ...
    event("u3-b", "u3", t(20, 0, 5)),  # ... continuing on D
    event("u4-a", "u4", t(21, 10)),
    event("r1", "u2", t(20, 12), "refund", order_id="o0", revenue="5.00", currency="USD", page_url=None),
]
VALID_IDS = {e["event_id"] for e in EVENTS}
RETRY = event("u4-a", "u4", t(21, 10), received_at=t(21, 10, 5).isoformat())
MALFORMED = event("bad", "u5", t(20, 11), page_url=None)


def kafka_frame(spark):  # type: ignore[no-untyped-def]
    rows = []
    for offset, body in enumerate([*EVENTS, RETRY, MALFORMED]):
        topic = "transaction-data" if body["source"] == "transaction_data" else "user-events"
        received = datetime.fromisoformat(body["received_at"])
        rows.append((body["user_id"].encode(), json.dumps(body).encode(), topic, 0, offset, received))
    return spark.createDataFrame(
        rows, "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )


@pytest.fixture(scope="module")
def lakes(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    """(in-order lake, backfill lake): the same bronze, days D-1, D, D+1 run in order in one and
    as D+1, D-1, D in the other."""
    frame = kafka_frame(spark)
    out = []
    for name, order in (("in_order", (-1, 0, 1)), ("backfill", (1, -1, 0))):
        settings = Settings(lake_uri=str(tmp_path_factory.mktemp(name) / "lake"))
        BronzeBatchWriter(LandingPaths.of(settings), clock=lambda: t(23, 0))(frame, 0)
        for offset in order:
            run_sessionize(spark, settings, D + timedelta(days=offset))
        out.append(settings)
    return tuple(out)


def test_every_valid_event_is_in_exactly_one_days_silver(spark, lakes):
    in_order, _ = lakes
    events = spark.read.parquet(lake.path(in_order, "silver", "events"))
    ids = [r["event_id"] for r in events.select("event_id").collect()]
    assert len(ids) == len(VALID_IDS) == 133
    assert set(ids) == VALID_IDS  # none twice (the lengths agree), none nowhere


def test_the_long_visit_is_split_at_its_second_midnight_and_owned_by_each_start_day(spark, lakes):
    in_order, _ = lakes
    sessions = spark.read.parquet(lake.path(in_order, "silver", "sessions"))
    found = {
        (str(r["dt"]), r["session_id"], r["event_count"])
        for r in sessions.select("dt", "session_id", "event_count").collect()
    }
    assert found == {
        ("2026-11-19", session_id("kiosk", uid("kiosk-000")), 120),  # 08:00 on D-1 to 23:40 on D
        ("2026-11-19", session_id("u3", uid("u3-a")), 2),
        ("2026-11-20", session_id("u2", uid("u2-a")), 2),
        ("2026-11-21", session_id("kiosk", uid("kiosk-120")), 7),  # 00:00 to 02:00 on D+1
        ("2026-11-21", session_id("u4", uid("u4-a")), 1),
    }
    refund = spark.read.parquet(lake.path(in_order, "silver", "events")).where(F.col("event_id") == uid("r1"))
    assert [(str(r["dt"]), r["session_id"]) for r in refund.select("dt", "session_id").collect()] == [
        ("2026-11-20", None)
    ]


def test_a_backfill_in_another_order_writes_identical_files(lakes):
    in_order, backfill = lakes
    first, second = (_digests(Path(lake.path(s).removeprefix("file://"))) for s in (in_order, backfill))
    assert first == second
    assert len(first["silver"]) > 0


def test_duckdb_computes_the_same_sessions_from_the_same_bronze(spark, lakes):
    """The independent DuckDB statement of bench/sessionize, over all bronze at once, finds the
    sessions the three daily Spark runs wrote."""
    import duckdb

    from bench.sessionize.duckdb_sql import sessions_sql

    in_order, _ = lakes
    root = lake.path(in_order).removeprefix("file://")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = "session_id, event_count, epoch_us(session_start) AS start_us"
    duck = set(
        con.execute(f"SELECT {columns} FROM ({sessions_sql(f'{root}/bronze/*/dt=*/hour=*/*.parquet')})").fetchall()
    )
    silver = spark.read.parquet(lake.path(in_order, "silver", "sessions"))
    spark_rows = {
        (r["session_id"], r["event_count"], r["start_us"])
        for r in silver.select("session_id", "event_count", F.unix_micros("session_start").alias("start_us")).collect()
    }
    assert duck == spark_rows
    assert len(duck) == 5
