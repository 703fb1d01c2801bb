"""Sessionization on small inline (bronze-shaped) frames, compared whole against the contract's
reference rule (watershed.contract.semantics.session_id)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.batch.transforms.dedup import deduplicate
from spark_jobs.batch.transforms.sessions import events_of_day, sessionize, sessions
from spark_jobs.common.lake_rules import SessionRules
from watershed.contract.semantics import session_id as reference_id
from watershed.contract.semantics import session_starts

RULES = SessionRules()
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def assigned(frame):  # type: ignore[no-untyped-def]
    return frame.select("event_id", "user_key", "session_id", "session_start")


def expect(spark, *rows):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        [Row(event_id=e, user_key=k, session_id=s, session_start=t) for e, k, s, t in rows],
        "event_id string, user_key string, session_id string, session_start timestamp",
    )


def test_gap_of_exactly_30_minutes_stays_in_the_session_one_microsecond_more_splits(spark, bronze):
    events = bronze(
        {"event_id": "e1", "occurred_at": at()},
        {"event_id": "e2", "occurred_at": at(minutes=30)},  # gap 30:00 exactly: same session
        {"event_id": "e3", "occurred_at": at(minutes=60, microseconds=1)},  # gap 30:00.000001: new
        {"event_id": "e4", "occurred_at": at(minutes=90, microseconds=1)},  # gap 30:00 again: same
    )
    s1, s2 = reference_id("u1", "e1"), reference_id("u1", "e3")
    assertDataFrameEqual(
        assigned(sessionize(events, RULES)),
        expect(
            spark,
            ("e1", "u1", s1, at()),
            ("e2", "u1", s1, at()),
            ("e3", "u1", s2, at(minutes=60, microseconds=1)),
            ("e4", "u1", s2, at(minutes=60, microseconds=1)),
        ),
    )


def test_the_gap_is_configurable(spark, bronze):
    events = bronze({"event_id": "e1", "occurred_at": at()}, {"event_id": "e2", "occurred_at": at(minutes=11)})
    ten = SessionRules(gap=timedelta(minutes=10))
    assertDataFrameEqual(
        assigned(sessionize(events, ten)),
        expect(
            spark,
            ("e1", "u1", reference_id("u1", "e1"), at()),
            ("e2", "u1", reference_id("u1", "e2"), at(minutes=11)),
        ),
    )


def test_out_of_order_arrival_does_not_change_sessions(spark, bronze):
    # arrival (Kafka offset) order e3, e1, e2; occurred order e1, e2, e3
    events = bronze(
        {"event_id": "e3", "occurred_at": at(minutes=50), "kafka_offset": 100},
        {"event_id": "e1", "occurred_at": at(), "kafka_offset": 101, "received_at": at(minutes=52)},
        {"event_id": "e2", "occurred_at": at(minutes=20), "kafka_offset": 102, "received_at": at(minutes=53)},
    )
    s1 = reference_id("u1", "e1")
    assertDataFrameEqual(
        assigned(sessionize(events, RULES)),
        expect(spark, ("e1", "u1", s1, at()), ("e2", "u1", s1, at()), ("e3", "u1", s1, at())),
    )


def test_equal_timestamps_are_ordered_by_event_id(spark, bronze):
    # two events at the same instant: the smaller event_id is first, so it names the session
    events = bronze(
        {"event_id": "b", "occurred_at": at(), "kafka_offset": 200},
        {"event_id": "a", "occurred_at": at(), "kafka_offset": 201},
        {"event_id": "c", "occurred_at": at(minutes=31)},
        {"event_id": "d", "occurred_at": at(minutes=31)},
    )
    s1, s2 = reference_id("u1", "a"), reference_id("u1", "c")
    assertDataFrameEqual(
        assigned(sessionize(events, RULES)),
        expect(
            spark,
            ("a", "u1", s1, at()),
            ("b", "u1", s1, at()),
            ("c", "u1", s2, at(minutes=31)),
            ("d", "u1", s2, at(minutes=31)),
        ),
    )


def test_duplicates_are_removed_before_sessionizing(spark, bronze):
    # e2 arrived twice (a retry 40 minutes later): the retry must neither count nor bridge a gap
    events = bronze(
        {"event_id": "e1", "occurred_at": at()},
        {"event_id": "e2", "occurred_at": at(minutes=20)},
        {"event_id": "e2", "occurred_at": at(minutes=20), "received_at": at(minutes=60)},
        {"event_id": "e3", "occurred_at": at(minutes=51)},
    )
    s1, s2 = reference_id("u1", "e1"), reference_id("u1", "e3")
    assertDataFrameEqual(
        assigned(sessionize(deduplicate(events), RULES)),
        expect(spark, ("e1", "u1", s1, at()), ("e2", "u1", s1, at()), ("e3", "u1", s2, at(minutes=51))),
    )


def test_user_key_is_user_id_else_anonymous_id_and_signing_in_starts_a_new_key(spark, bronze):
    events = bronze(
        {"event_id": "a1", "user_id": None, "anonymous_id": "anon-9", "occurred_at": at()},
        {"event_id": "a2", "user_id": None, "anonymous_id": "anon-9", "occurred_at": at(minutes=1)},
        # signs in: the same browser now carries user_id u9, which becomes the key
        {
            "event_id": "a3",
            "event_type": "login",
            "user_id": "u9",
            "anonymous_id": "anon-9",
            "occurred_at": at(minutes=2),
        },
        {"event_id": "a4", "user_id": "u9", "anonymous_id": "anon-9", "occurred_at": at(minutes=3)},
        # another user at the same instant is a separate session
        {"event_id": "b1", "user_id": "u2", "occurred_at": at()},
    )
    anon, user, other = reference_id("anon-9", "a1"), reference_id("u9", "a3"), reference_id("u2", "b1")
    assertDataFrameEqual(
        assigned(sessionize(events, RULES)),
        expect(
            spark,
            ("a1", "anon-9", anon, at()),
            ("a2", "anon-9", anon, at()),
            ("a3", "u9", user, at(minutes=2)),
            ("a4", "u9", user, at(minutes=2)),
            ("b1", "u2", other, at()),
        ),
    )


def test_only_session_event_types_form_sessions(spark, bronze):
    events = bronze(
        {"event_id": "p1", "occurred_at": at()},
        {
            "event_id": "r1",
            "event_type": "refund",
            "source": "transaction_data",
            "kafka_topic": "transaction-data",
            "order_id": "o1",
            "revenue": Decimal("5.00"),
            "currency": "USD",
            "occurred_at": at(minutes=1),
        },
        {
            "event_id": "i1",
            "event_type": "impression",
            "source": "ad_platform",
            "kafka_topic": "ad-events",
            "campaign_id": "c1",
            "platform": "google_ads",
            "ad_id": "ad1",
            "occurred_at": at(minutes=2),
        },
    )
    assertDataFrameEqual(
        assigned(sessionize(events, RULES)),
        expect(spark, ("p1", "u1", reference_id("u1", "p1"), at()), ("r1", "u1", None, None), ("i1", "u1", None, None)),
    )


def test_a_session_crossing_midnight_belongs_to_the_day_it_starts(spark, bronze):
    late_evening = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)
    events = bronze(
        {"event_id": "n1", "occurred_at": late_evening},
        {"event_id": "n2", "occurred_at": late_evening + timedelta(minutes=20)},  # 00:10 next day
        {"event_id": "m1", "user_id": "u2", "occurred_at": late_evening + timedelta(minutes=25)},  # starts 00:15
        {
            "event_id": "r1",
            "event_type": "refund",
            "source": "transaction_data",
            "order_id": "o1",
            "revenue": Decimal("5.00"),
            "currency": "USD",
            "occurred_at": late_evening + timedelta(minutes=15),  # 00:05, no session: its own day
        },
    )
    sessionized = sessionize(events, RULES)
    night = reference_id("u1", "n1")
    assertDataFrameEqual(
        assigned(events_of_day(sessionized, date(2026, 11, 20))),
        expect(spark, ("n1", "u1", night, late_evening), ("n2", "u1", night, late_evening)),
    )
    assertDataFrameEqual(
        assigned(events_of_day(sessionized, date(2026, 11, 21))),
        expect(
            spark,
            ("m1", "u2", reference_id("u2", "m1"), late_evening + timedelta(minutes=25)),
            ("r1", "u1", None, None),
        ),
    )


def _steady(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    times = [start]
    while times[-1] + every <= end:
        times.append(times[-1] + every)
    return times


def test_a_visit_crossing_two_midnights_is_one_session_until_the_second(spark, bronze):
    # a kiosk: an event every 20 minutes from 08:00 on D-1 to 02:00 on D+1 (127 events)
    times = _steady(datetime(2026, 11, 19, 8, tzinfo=UTC), datetime(2026, 11, 21, 2, tzinfo=UTC), timedelta(minutes=20))
    events = bronze(*[{"event_id": f"k{i:03d}", "occurred_at": t} for i, t in enumerate(times)])
    sessionized = sessionize(events, RULES)
    starts = sessions(sessionized).select("session_id", "session_start", "session_end", "event_count")
    first, second = reference_id("u1", "k000"), reference_id("u1", "k120")
    assert len(times) == 127 and times[120] == datetime(2026, 11, 21, tzinfo=UTC)
    assertDataFrameEqual(
        starts,
        spark.createDataFrame([(first, times[0], times[119], 120), (second, times[120], times[126], 7)], starts.schema),
    )
    # each part belongs to the day it starts: D-1 owns D's events too, D owns none, D+1 its own
    owned = {d: events_of_day(sessionized, date(2026, 11, d)).count() for d in (19, 20, 21)}
    assert owned == {19: 120, 20: 0, 21: 7}
    assert session_starts(times) == [i in (0, 120) for i in range(127)]


def test_a_visit_of_days_starts_a_session_at_each_later_midnight(spark, bronze):
    # a bot without a pause over 30 minutes for four days from 12:00 on D-1 (every 25 minutes)
    times = _steady(
        datetime(2026, 11, 19, 12, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC), timedelta(minutes=25)
    )
    events = bronze(*[{"event_id": f"b{i:04d}", "occurred_at": t} for i, t in enumerate(times)])
    found = sessions(sessionize(events, RULES)).select("session_start", "session_end")
    first_of = {d: min(t for t in times if t.day == d) for d in (21, 22, 23)}
    last_of = {d: max(t for t in times if t.day == d) for d in (20, 21, 22)}
    expected = [
        (times[0], last_of[20]),  # crosses one midnight, ends before the second
        (first_of[21], last_of[21]),
        (first_of[22], last_of[22]),
        (first_of[23], times[-1]),
    ]
    assertDataFrameEqual(found, spark.createDataFrame(expected, found.schema))
    assert first_of[21] == datetime(2026, 11, 21, 0, 15, tzinfo=UTC)
    starts = [i for i, start in enumerate(session_starts(times)) if start]
    assert starts == [0, *(times.index(first_of[d]) for d in (21, 22, 23))]


def test_a_pause_starts_a_new_visit_which_may_cross_a_midnight_again(spark, bronze):
    # one visit from 12:00 on D-2 to 22:00 on D-1 (103 events), an hour's pause, then a second
    # visit from 23:00 on D-1 to 00:20 on D: one session across D's midnight, not cut there
    times = _steady(
        datetime(2026, 11, 18, 12, tzinfo=UTC), datetime(2026, 11, 19, 22, tzinfo=UTC), timedelta(minutes=20)
    )
    times += _steady(
        datetime(2026, 11, 19, 23, tzinfo=UTC), datetime(2026, 11, 20, 0, 20, tzinfo=UTC), timedelta(minutes=20)
    )
    events = bronze(*[{"event_id": f"g{i:03d}", "occurred_at": t} for i, t in enumerate(times)])
    found = sessions(sessionize(events, RULES)).select("session_start", "session_end", "event_count")
    expected = [(times[0], times[102], 103), (times[103], times[107], 5)]
    assertDataFrameEqual(found, spark.createDataFrame(expected, found.schema))
    assert session_starts(times) == [i in (0, 103) for i in range(108)]


def test_is_bot_follows_each_events_user_agent(spark, bronze):
    bot, browser = "Mozilla/5.0 (compatible; Googlebot/2.1)", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    agents = [bot, bot, browser, None, None, bot, browser, browser]
    events = bronze(
        *[{"event_id": f"e{i}", "occurred_at": at(minutes=i), "user_agent": a} for i, a in enumerate(agents)]
    )
    result = sessionize(events, RULES).select("event_id", "is_bot")
    expected = [Row(event_id=f"e{i}", is_bot=a == bot) for i, a in enumerate(agents)]
    assertDataFrameEqual(result, expected)


def test_sessions_summarise_each_session(spark, bronze):
    page = "https://shop.example/"
    events = bronze(
        {"event_id": "e1", "occurred_at": at(), "page_url": page + "home", "device": None, "anonymous_id": "x1"},
        {
            "event_id": "e2",
            "event_type": "product_view",
            "occurred_at": at(minutes=1),
            "page_url": page + "p/1",
            "product_id": "p1",
            "device": "mobile",
            "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1)",
        },
        {
            "event_id": "e3",
            "event_type": "add_to_cart",
            "occurred_at": at(minutes=2),
            "page_url": page + "p/1",
            "product_id": "p1",
            "quantity": 2,
            "price": Decimal("10.00"),
            "currency": "USD",
            "device": "desktop",
        },
        {
            "event_id": "e4",
            "event_type": "purchase",
            "source": "transaction_data",
            "kafka_topic": "transaction-data",
            "occurred_at": at(minutes=3, seconds=30),
            "page_url": None,
            "order_id": "o1",
            "revenue": Decimal("20.00"),
            "currency": "USD",
            "items": [Row(product_id="p1", quantity=2, price=Decimal("10.00"))],
        },
        {"event_id": "f1", "user_id": None, "anonymous_id": "x2", "occurred_at": at(hours=2), "page_url": page},
    )
    result = sessions(sessionize(events, RULES))
    expected = [
        Row(
            user_key="u1",
            user_id="u1",
            anonymous_id="x1",
            session_id=reference_id("u1", "e1"),
            session_start=at(),
            session_end=at(minutes=3, seconds=30),
            duration_seconds=210.0,
            event_count=4,
            unique_pages=2,
            page_views=1,
            product_views=1,
            add_to_carts=1,
            begin_checkouts=0,
            purchases=1,
            revenue=Decimal("20.00"),
            entry_page=page + "home",
            exit_page=page + "p/1",
            device="mobile",
            is_bounce=False,
            is_bot=True,
        ),
        Row(
            user_key="x2",
            user_id=None,
            anonymous_id="x2",
            session_id=reference_id("x2", "f1"),
            session_start=at(hours=2),
            session_end=at(hours=2),
            duration_seconds=0.0,
            event_count=1,
            unique_pages=1,
            page_views=1,
            product_views=0,
            add_to_carts=0,
            begin_checkouts=0,
            purchases=0,
            revenue=Decimal("0.00"),
            entry_page=page,
            exit_page=page,
            device=None,
            is_bounce=True,
            is_bot=False,
        ),
    ]
    assertDataFrameEqual(result, spark.createDataFrame(expected, result.schema))
