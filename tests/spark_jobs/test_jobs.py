"""The batch jobs on a real bronze layout (written by the landing writer): which days a run reads
and owns, quarantine, byte-identical reruns, and the same code on the S3 store (s3a)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.batch.jobs.gold import run_gold
from spark_jobs.batch.jobs.sessionize import run_sessionize
from spark_jobs.landing.job import BronzeBatchWriter, LandingPaths
from watershed import lake
from watershed.contract.semantics import session_id

DAY = date(2026, 11, 20)
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def event(name: str, user: str, at: datetime, event_type: str = "page_view", **extra: object) -> dict:
    source = {"purchase": "transaction_data", "refund": "transaction_data"}.get(event_type, "web_analytics")
    return {
        "event_id": uid(name),
        "event_type": event_type,
        "schema_version": 1,
        "source": source,
        "user_id": user,
        "occurred_at": at.isoformat(),
        "received_at": (at + timedelta(seconds=2)).isoformat(),
        "page_url": f"https://shop.example/{name}",
        "device": "mobile",
    } | extra


def h(hours: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hours)


PURCHASE = {
    "order_id": "o1",
    "revenue": "25.00",
    "currency": "USD",
    "items": [{"product_id": "p1", "quantity": 1, "price": "25.00"}],
}
EVENTS = [
    event("u1-a", "u1", h(-2)),  # D-1, long before midnight: not read
    event("u1-b", "u1", h(-0.25)),  # D-1 23:45: starts a session of D-1 ...
    event("u1-c", "u1", h(1 / 12)),  # ... which continues at 00:05: not D's
    event("u2-a", "u2", h(10)),
    event("u2-b", "u2", h(10 + 1 / 6), "product_view", product_id="p1"),
    event("u2-c", "u2", h(10 + 2 / 6), "purchase", **PURCHASE),
    event("u3-a", "u3", h(23 + 5 / 6)),  # D 23:50: a session of D ...
    event("u3-b", "u3", h(24.25)),  # ... continuing at 00:15 on D+1
    event("u4-a", "u4", h(25)),  # D+1: not D's
    event("r1", "u2", h(12), "refund", order_id="o0", revenue="5.00", currency="USD", page_url=None),
]
INVALID = [
    event("bad-d", "u5", h(11), page_url=None),  # D: quarantined by D's run
    event("bad-before", "u5", h(-1), page_url=None),  # D-1: quarantined by the D-1 run, not D's
    event("bad-after", "u5", h(30), page_url=None),  # D+1: idem
]


def kafka_frame(spark):  # type: ignore[no-untyped-def]
    rows = []
    for offset, body in enumerate([*EVENTS, *INVALID]):
        topic = "transaction-data" if body["source"] == "transaction_data" else "user-events"
        received = datetime.fromisoformat(body["received_at"])
        rows.append((body["user_id"].encode(), json.dumps(body).encode(), topic, 0, offset, received))
    # the retry of u2-b (first received wins) and a record that is not JSON, received on D
    retry = event("u2-b", "u2", h(10 + 1 / 6), "product_view", product_id="p1", received_at=h(10.5).isoformat())
    rows.append((b"u2", json.dumps(retry).encode(), "user-events", 1, 0, h(10.5)))
    rows.append((None, b"garbage", "user-events", 1, 1, h(11)))
    return spark.createDataFrame(
        rows, "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )


def _digests(root: Path) -> dict[str, list[str]]:
    """Per layer, the sorted content digests of its Parquet files (names hold a random id)."""
    return {
        layer: sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / layer).rglob("*.parquet"))
        for layer in ("silver", "gold", "quarantine")
    }


@pytest.fixture(scope="module")
def lakes(spark, stack_settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The same bronze in a local folder lake and in an s3a lake on the test MinIO, each
    sessionized and aggregated for DAY once: (local settings, s3 settings, the local run's
    report, the local files' digests right after that run)."""
    local = stack_settings.model_copy(update={"lake_uri": str(tmp_path_factory.mktemp("jobs") / "lake")})
    s3 = stack_settings.model_copy(update={"lake_uri": f"s3a://{stack_settings.s3_bucket}/jobs-{uuid.uuid4().hex}"})
    frame = kafka_frame(spark)
    reports = []
    for settings in (local, s3):
        BronzeBatchWriter(LandingPaths.of(settings), clock=lambda: datetime(2026, 11, 22, tzinfo=UTC))(frame, 0)
        reports.append((run_sessionize(spark, settings, DAY), run_gold(spark, settings, DAY)))
    digests = _digests(Path(lake.path(local).removeprefix("file://")))
    return local, s3, reports[0], digests


def table(spark, settings, *parts):  # type: ignore[no-untyped-def]
    return spark.read.parquet(lake.path(settings, *parts))


def test_sessionize_owns_the_sessions_that_start_on_its_day(spark, lakes):
    local, _, (report, _), _ = lakes

    u2, u3 = session_id("u2", uid("u2-a")), session_id("u3", uid("u3-a"))
    events = table(spark, local, "silver", "events", f"dt={DAY}")
    assertDataFrameEqual(
        events.select("event_id", "user_key", "session_id"),
        [
            Row(event_id=uid("u2-a"), user_key="u2", session_id=u2),
            Row(event_id=uid("u2-b"), user_key="u2", session_id=u2),  # once, the first received copy
            Row(event_id=uid("u2-c"), user_key="u2", session_id=u2),
            Row(event_id=uid("u3-a"), user_key="u3", session_id=u3),
            Row(event_id=uid("u3-b"), user_key="u3", session_id=u3),  # after midnight, still D's
            Row(event_id=uid("r1"), user_key="u2", session_id=None),  # no session: the day it occurred
        ],
    )
    assert events.where(F.col("event_id") == uid("u2-b")).first()["kafka_partition"] == 0  # type: ignore[index]

    sessions = table(spark, local, "silver", "sessions", f"dt={DAY}").select(
        "session_id", "user_key", "session_start", "session_end", "event_count", "purchases", "revenue"
    )
    expected = [
        (u2, "u2", h(10), h(10 + 2 / 6), 3, 1, Decimal("25.00")),
        (u3, "u3", h(23 + 5 / 6), h(24.25), 2, 0, Decimal("0.00")),
    ]
    assertDataFrameEqual(sessions, spark.createDataFrame(expected, sessions.schema))

    quarantine = table(spark, local, "quarantine", "events", f"dt={DAY}")
    assertDataFrameEqual(
        quarantine.select("event_id", "quarantine_reason", "kafka_value"),
        [
            Row(event_id=uid("bad-d"), quarantine_reason="missing_required_field:page_url",
                kafka_value=json.dumps(INVALID[0])),
            Row(event_id=None, quarantine_reason="unparseable_json", kafka_value="garbage"),
        ],
    )  # fmt: skip
    assert report == {
        "date": "2026-11-20",
        "session_gap_seconds": 1800.0,
        "silver_events": 6,
        "silver_sessions": 2,
        "quarantined": 2,
        "quarantine_reasons": {"missing_required_field:page_url": 1, "unparseable_json": 1},
        "valid_bronze_rows": 7,  # D's valid rows: u2 x3 + its retry, u3-a, r1, u1-c
        "duplicates_removed": 1,
    }


def test_a_rerun_rewrites_its_day_with_identical_files(spark, lakes):
    local, _, _, first_run = lakes
    root = Path(lake.path(local).removeprefix("file://"))
    rows = table(spark, local, "silver", "sessions").collect()
    run_sessionize(spark, local, DAY)
    run_gold(spark, local, DAY)
    assert _digests(root) == first_run
    assertDataFrameEqual(table(spark, local, "silver", "sessions"), rows)
    # exactly its day's partitions: nothing of the neighbouring days was written
    assert sorted(p.name for p in (root / "silver" / "sessions").iterdir()) == [f"dt={DAY}"]


def test_gold_of_the_day(spark, lakes):
    local, _, (_, report), _ = lakes
    assert report == {"date": "2026-11-20", "product_interactions": 1}
    # p1: u2's product view (once: its retry was deduplicated) and its order; the refund has no items
    assertDataFrameEqual(
        table(spark, local, "gold", "product_interactions", f"dt={DAY}"),
        [Row(product_id="p1", views=1, add_to_carts=0, purchases=1, units_purchased=1, revenue=Decimal("25.00"),
             view_to_cart_rate=0.0, cart_to_purchase_rate=None)],
    )  # fmt: skip
    # only the table the lake owns: the funnel, user metrics and revenue are dbt marts
    root = Path(lake.path(local).removeprefix("file://"))
    assert sorted(p.name for p in (root / "gold").iterdir()) == ["product_interactions"]


def test_the_same_jobs_run_on_the_s3_store(spark, lakes, stack_settings):
    local, s3, _, _ = lakes
    for parts in (
        ("silver", "events"),
        ("silver", "sessions"),
        ("quarantine", "events"),
        ("gold", "product_interactions"),
    ):
        assertDataFrameEqual(table(spark, s3, *parts), table(spark, local, *parts))
    keys = lake.s3_client(stack_settings).list_objects_v2(
        Bucket=stack_settings.s3_bucket, Prefix=s3.lake_uri.split("/")[-1]
    )
    names = [o["Key"] for o in keys.get("Contents", [])]
    assert any("/silver/sessions/dt=2026-11-20/part-" in k for k in names)
