"""`dbt build` on the small lake (conftest.py): every mart's rows, reruns that change nothing,
late data replacing the window, and the docs."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import pytest

D1, D2 = date(2025, 1, 6), date(2025, 1, 7)


@pytest.fixture(scope="module")
def built(warehouse_factory, lakedata):  # type: ignore[no-untyped-def]
    """Both days loaded and built (run_date = day 2), with dbt's output."""
    warehouse = warehouse_factory("dbt-build")
    lakedata.write_day(warehouse.lake, D1)
    lakedata.write_day(warehouse.lake, D2)
    warehouse.load(D1)
    warehouse.load(D2)
    return warehouse, warehouse.build(D2)


def _summary(output: str) -> dict[str, int]:
    line = [line for line in output.splitlines() if "Done. PASS=" in line][-1]
    return {k: int(v) for k, v in re.findall(r"(PASS|WARN|ERROR|SKIP|NO-OP|TOTAL)=(\d+)", line)}


def test_dbt_build_is_green_with_unit_tests(built):
    _, output = built
    summary = _summary(output)
    assert summary["ERROR"] == summary["WARN"] == summary["SKIP"] == 0
    assert summary["PASS"] == summary["TOTAL"] > 100
    assert re.search(r"Finished running 6 incremental models, 1 table model, \d+ data tests, 8 unit tests", output)


def test_sessions_and_events(built):
    wh, _ = built
    assert wh.query(
        "select session_id, user_key, session_date, session_started_at, session_ended_at, event_count, purchases, "
        "revenue, device, has_product_view, has_add_to_cart, has_purchase, is_bot from marts.fct_sessions "
        "order by session_id"
    ) == [
        ("s-a1", "a1", D1, datetime(2025, 1, 6, 23, 50), datetime(2025, 1, 7, 0, 15), 3, 1, Decimal("10.00"),
         "tablet", True, False, True, False),
        ("s-bot", "bot1", D1, datetime(2025, 1, 6, 5), datetime(2025, 1, 6, 5), 1, 0, Decimal("0.00"),
         "desktop", False, False, False, True),
        ("s-u1-a", "u1", D1, datetime(2025, 1, 6, 10), datetime(2025, 1, 6, 10, 20), 4, 1, Decimal("25.00"),
         "mobile", True, True, True, False),
        ("s-u1-b", "u1", D2, datetime(2025, 1, 7, 9), datetime(2025, 1, 7, 9, 5), 2, 0, Decimal("0.00"),
         "desktop", False, True, False, False),
    ]  # fmt: skip
    assert wh.query(
        "select event_id, session_id, event_date, batch_date, country_code from marts.fct_user_events "
        "where event_type in ('purchase', 'refund') order by event_id"
    ) == [
        ("e04", "s-u1-a", D1, D1, "DE"),
        ("e05", None, D1, D1, "DE"),  # a refund is no visit
        ("e08", "s-a1", D2, D1, "DE"),  # after midnight, in a session of day 1
    ]
    assert wh.query("select count(*) from marts.fct_user_events") == [(11,)]


def test_daily_revenue_counts_each_order_on_the_day_it_occurred(built):
    wh, _ = built
    assert wh.rows("marts.daily_revenue", "revenue_date") == [
        (D1, 1, Decimal("25.00"), 1, Decimal("5.00"), Decimal("20.00"), Decimal("25.00"), "USD", 1),
        (D2, 1, Decimal("10.00"), 0, Decimal("0.00"), Decimal("10.00"), Decimal("10.00"), "USD", 1),
    ]


def test_conversion_funnel(built):
    wh, _ = built
    assert wh.rows("marts.conversion_funnel", "funnel_date, device") == [
        (D1, "desktop", True, 1, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0),
        (D1, "mobile", False, 1, 1, 1, 0, 1, 1.0, 1.0, 0.0, 1.0),
        (D1, "tablet", False, 1, 1, 0, 0, 1, 1.0, 0.0, 0.0, 1.0),
        (D2, "desktop", False, 1, 0, 1, 0, 0, 0.0, 1.0, 0.0, 0.0),
    ]


def test_daily_user_metrics(built):
    wh, _ = built
    assert wh.rows("marts.agg_daily_user_metrics", "activity_date, user_key") == [
        # date, user, user_id, bot, events, sessions, views, carts, purchases, revenue, aov, cart rate, duration
        (D1, "a1", None, False, 3, 1, 1, 0, 1, Decimal("10.00"), Decimal("10.00"), None, 1500.0),
        (D1, "bot1", None, True, 1, 1, 1, 0, 0, Decimal("0.00"), None, None, 0.0),
        (D1, "u1", "u1", False, 4, 1, 1, 1, 1, Decimal("25.00"), Decimal("25.00"), 1.0, 1200.0),
        (D2, "u1", "u1", False, 2, 1, 1, 1, 0, Decimal("0.00"), None, 0.0, 300.0),
    ]


def test_dim_users(built):
    wh, _ = built
    assert wh.rows("marts.dim_users", "user_key") == [
        ("a1", None, False, False, datetime(2025, 1, 6, 23, 50), datetime(2025, 1, 7, 0, 15), 1, 1,
         Decimal("10.00"), "one_time_buyer", True, D2),
        ("bot1", None, False, True, datetime(2025, 1, 6, 5), datetime(2025, 1, 6, 5), 1, 0, Decimal("0.00"),
         "bot", True, D2),
        ("u1", "u1", True, False, datetime(2025, 1, 6, 10), datetime(2025, 1, 7, 9, 5), 2, 1, Decimal("25.00"),
         "one_time_buyer", True, D2),
    ]  # fmt: skip


def test_product_performance(built):
    wh, _ = built
    assert wh.rows("marts.product_performance", "activity_date, product_id") == [
        (D1, "p1", 1, 1, 1, 1, Decimal("25.00"), Decimal("25.00"), 1.0, 1.0),
        (D1, "p2", 1, 0, 0, 0, Decimal("0.00"), None, 0.0, None),
        (D2, "p2", 0, 1, 1, 1, Decimal("10.00"), Decimal("10.00"), None, 1.0),
    ]


def test_loading_and_building_the_same_days_again_changes_no_mart(built):
    wh, _ = built
    before = wh.row_hashes()
    assert all(before.values())

    wh.load(D1)
    wh.load(D2)
    output = wh.build(D2)

    assert _summary(output)["ERROR"] == 0
    assert wh.row_hashes() == before


def test_docs_generate(built):
    wh, _ = built
    wh.dbt("docs", "generate")
    catalog = json.loads((wh.root / "dbt-target" / "catalog.json").read_text())
    assert "model.watershed.fct_sessions" in catalog["nodes"]
    assert "source.watershed.watershed.events" in catalog["sources"]
    assert (wh.root / "dbt-target" / "index.html").exists()


def test_late_data_reloaded_within_the_lookback_replaces_the_old_rows(built, lakedata):
    """Day 1 reprocessed upstream after a late event: a1's visit now starts earlier, so its
    session id changes. Loading day 1 and building day 2 (lookback 2 days) must leave the new
    session only, in every mart."""
    wh, _ = built
    late = lakedata.event("e00", "page_view", "2025-01-06 23:40:00", "a1", "s-a1-late", page_url="/", device="tablet")
    events = [late] + [
        {**e, "session_id": "s-a1-late"} if e["session_id"] == "s-a1" else e for e in lakedata.EVENTS[D1]
    ]
    sessions = [s for s in lakedata.SESSIONS[D1] if s["session_id"] != "s-a1"]
    sessions.append(
        lakedata.session("s-a1-late", "a1", "2025-01-06 23:40:00", "2025-01-07 00:15:00", 4, "tablet",
                         page_views=2, product_views=1, purchases=1, revenue=Decimal("10.00"))
    )  # fmt: skip
    lakedata.write_partition(wh.lake, "events", D1, events)
    lakedata.write_partition(wh.lake, "sessions", D1, sessions)
    gold = lakedata.GOLD[D1]["daily_user_metrics"]
    lakedata.write_partition(
        wh.lake,
        "daily_user_metrics",
        D1,
        [{**r, "events": 4, "page_views": 2, "total_duration_seconds": 2100.0} if r["user_key"] == "a1" else r
         for r in gold],
    )  # fmt: skip

    wh.load(D1)
    output = wh.build(D2)

    assert _summary(output)["ERROR"] == 0
    assert wh.query("select session_id from marts.fct_sessions where user_key = 'a1'") == [("s-a1-late",)]
    assert wh.query("select count(*), min(session_id), max(session_id) from marts.fct_user_events "
                    "where user_key = 'a1'") == [(4, "s-a1-late", "s-a1-late")]  # fmt: skip
    assert wh.query(
        "select total_events, page_views, avg_session_duration from marts.agg_daily_user_metrics where user_key = 'a1'"
    ) == [(4, 2, 2100.0)]
    assert wh.query("select first_seen_at from marts.dim_users where user_key = 'a1'") == [
        (datetime(2025, 1, 6, 23, 40),)
    ]
