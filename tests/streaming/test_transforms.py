"""The pure Spark transforms on inline frames: parsing, the two-step window metrics, ad deltas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.streaming.transforms import ad_counter_deltas, parse_events, user_windows, window_metrics
from tests.streaming.conftest import T0, event, iso


def frame(spark, events):  # type: ignore[no-untyped-def]
    raw = spark.createDataFrame(
        [Row(value=json.dumps(e).encode(), topic="user-events", timestamp=T0) for e in events],
        "value binary, topic string, timestamp timestamp",
    )
    return parse_events(raw)


def test_window_metrics_from_user_windows(spark):
    at = lambda **d: T0 + timedelta(**d)  # noqa: E731
    events = [
        event("page_view", at(minutes=0), "u1"),
        event("page_view", at(minutes=3), "u1"),  # u1 visits 180 s in window 0
        event("purchase", at(minutes=4), "u1", revenue="10.50"),  # purchase is a session event too
        # u2: one event, 0 s; received exactly 5 minutes after it occurred: not late
        event("page_view", at(minutes=1), "u2", received_at=iso(at(minutes=6))),
        # ad event: counted, no session; received 5 minutes and a microsecond after: late
        event("impression", at(minutes=2), "u3", received_at=iso(at(minutes=7, microseconds=1))),
        # window 1; no received_at: the Kafka timestamp (T0) is the time received, before it occurred
        {k: v for k, v in event("page_view", at(minutes=5), "u2").items() if k != "received_at"},
        event("purchase", at(minutes=6), "u2", revenue="3.00"),
        event("purchase", at(minutes=7), "u2", revenue="2.00"),
    ]
    metrics = window_metrics(user_windows(frame(spark, events), "5 minutes"))
    expected = spark.createDataFrame(
        [
            Row(
                window_start=T0.replace(tzinfo=None),
                window_end=(T0 + timedelta(minutes=5)).replace(tzinfo=None),
                total_events=5,
                unique_users=3,
                purchases=1,
                revenue=Decimal("10.50"),
                purchasing_users=1,
                site_users=2,  # u3 only saw an ad
                late_events=1,
                buyer_share=1 / 2,
                avg_session_duration_s=120.0,  # (240 + 0) / 2 users with session events
            ),
            Row(
                window_start=(T0 + timedelta(minutes=5)).replace(tzinfo=None),
                window_end=(T0 + timedelta(minutes=10)).replace(tzinfo=None),
                total_events=3,
                unique_users=1,
                purchases=2,
                revenue=Decimal("5.00"),
                purchasing_users=1,
                site_users=1,
                late_events=0,
                buyer_share=1.0,
                avg_session_duration_s=120.0,
            ),
        ],
        metrics.schema,
    )
    assertDataFrameEqual(metrics, expected)


def test_unparseable_records_have_no_event_id(spark):
    raw = spark.createDataFrame(
        [Row(value=b"not json", topic="user-events", timestamp=datetime(2026, 1, 1, tzinfo=UTC))],
        "value binary, topic string, timestamp timestamp",
    )
    assert parse_events(raw).select("event_id", "occurred_at").collect() == [Row(event_id=None, occurred_at=None)]


def test_ad_counter_deltas(spark):
    events = [
        event("impression", T0, "a", campaign_id="c1", cost="0.007000"),
        event("impression", T0, "b", campaign_id="c1", cost="0.007000"),
        event("click", T0, "a", campaign_id="c1", cost="0.400000"),
        event("conversion", T0, "a", campaign_id="c1", value="25.00"),
        event("impression", T0, "c", campaign_id="c2"),  # cost 0.010000 by default
        event("impression", T0 + timedelta(hours=15), "c", campaign_id="c2"),  # 00:00 UTC the next day
    ]
    deltas = ad_counter_deltas(frame(spark, events))
    c1, c2 = (dict(campaign_id=c, day="2026-11-20") for c in ("c1", "c2"))
    expected = spark.createDataFrame(
        [
            Row(**c1, impressions=2, clicks=1, conversions=1, cost=Decimal("0.414"), revenue=Decimal("25")),
            Row(**c2, impressions=1, clicks=0, conversions=0, cost=Decimal("0.01"), revenue=Decimal("0")),
            Row(
                **{**c2, "day": "2026-11-21"},
                impressions=1,
                clicks=0,
                conversions=0,
                cost=Decimal("0.01"),
                revenue=Decimal("0"),
            ),
        ],
        deltas.schema,
    )
    assertDataFrameEqual(deltas, expected)
