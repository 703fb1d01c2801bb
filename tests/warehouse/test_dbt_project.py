"""`dbt build` on the small lake (conftest.py): every mart's rows, reruns that change nothing,
late data replacing the window, and the docs."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from warehouse import WarehouseError

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
    finished = [line for line in output.splitlines() if "Finished running" in line]
    assert re.search(r"7 incremental models, 1 seed, 5 table models, \d+ data tests, 13 unit tests", finished[-1])


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
    assert wh.rows("marts.daily_revenue", "revenue_date, currency") == [
        # date, currency, orders, revenue, refunds, refunded, net revenue, avg order value
        (D1, "USD", 1, Decimal("25.00"), 1, Decimal("5.00"), Decimal("20.00"), Decimal("25.00")),
        (D2, "USD", 1, Decimal("10.00"), 0, Decimal("0.00"), Decimal("10.00"), Decimal("10.00")),
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


def test_dim_users_daily_of_the_build(built):
    """The two days built in one run: day 1 as of day 1, day 2 cumulative; dim_users is day 2."""
    wh, _ = built
    assert wh.query(
        "select as_of_date, user_key, first_seen_at, last_seen_at, lifetime_sessions, lifetime_orders, "
        "lifetime_revenue, segment from marts.dim_users_daily where user_key = 'u1' order by as_of_date"
    ) == [
        (D1, "u1", datetime(2025, 1, 6, 10), datetime(2025, 1, 6, 10, 20), 1, 1, Decimal("25.00"), "one_time_buyer"),
        (D2, "u1", datetime(2025, 1, 6, 10), datetime(2025, 1, 7, 9, 5), 2, 1, Decimal("25.00"), "one_time_buyer"),
    ]
    latest = wh.query(
        "select * exclude (as_of_date) from marts.dim_users_daily where as_of_date = date '2025-01-07' order by all"
    )
    assert latest == [row[:-1] for row in wh.rows("marts.dim_users", "user_key")]


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


def test_revenue_is_per_currency_and_a_day_without_sales_keeps_one_row(warehouse_factory, lakedata):
    """daily_revenue's key is (revenue_date, currency): a loaded day without a transaction has one
    row with a null currency, which a rebuild replaces (never a second null row) and a late sale
    replaces by its currency's row. Marts that sum money without a currency column fail the build
    when one of their rows would mix currencies."""
    d3 = date(2025, 1, 8)
    wh = warehouse_factory("currencies")
    lakedata.write_day(wh.lake, D1)
    lakedata.write_day(wh.lake, D2)
    visit = [lakedata.event("e20", "page_view", "2025-01-08 08:00:00", "u9", "s-u9", page_url="/", device="mobile")]
    lakedata.write_partition(wh.lake, "events", d3, visit)
    lakedata.write_partition(wh.lake, "sessions", d3, [
        lakedata.session("s-u9", "u9", "2025-01-08 08:00:00", "2025-01-08 08:00:00", 1, "mobile", page_views=1)
    ])  # fmt: skip
    lakedata.write_partition(wh.lake, "product_interactions", d3, [])
    for day in (D1, D2, d3):
        wh.load(day)

    revenue = "select revenue_date, currency, orders, revenue, refunded from marts.daily_revenue order by all"
    for _ in range(2):  # the first build creates the mart, the second replaces the window (null key included)
        output = wh.build(d3)
        assert _summary(output)["ERROR"] == 0, output[-3000:]
        assert wh.query(revenue) == [
            (D1, "USD", 1, Decimal("25.00"), Decimal("5.00")),
            (D2, "USD", 1, Decimal("10.00"), Decimal("0.00")),
            (d3, None, 0, Decimal("0.00"), Decimal("0.00")),
        ]

    # late data: u9 buys in euros on day 3; u1, who paid in dollars on day 1, buys p2 in euros on day 2
    eur = {"currency": "EUR"}
    u9 = lakedata.event("e21", "purchase", "2025-01-08 08:10:00", "u9", "s-u9", order_id="o9",
                        revenue=Decimal("40.00"), items=[lakedata.item("p3", 1, "40.00")], **eur)  # fmt: skip
    u1 = lakedata.event("e12", "purchase", "2025-01-07 09:10:00", "u1", "s-u1-b", order_id="o3",
                        revenue=Decimal("12.00"), items=[lakedata.item("p2", 1, "12.00")], **eur)  # fmt: skip
    lakedata.write_partition(wh.lake, "events", d3, [*visit, u9])
    lakedata.write_partition(wh.lake, "sessions", d3, [
        lakedata.session("s-u9", "u9", "2025-01-08 08:00:00", "2025-01-08 08:10:00", 2, "mobile", page_views=1,
                         purchases=1, revenue=Decimal("40.00"))
    ])  # fmt: skip
    lakedata.write_partition(wh.lake, "product_interactions", d3, [lakedata.product("p3", 0, 0, 1, 1, "40.00")])
    lakedata.write_partition(wh.lake, "events", D2, [*lakedata.EVENTS[D2], u1])
    lakedata.write_partition(wh.lake, "sessions", D2, [
        lakedata.session("s-u1-b", "u1", "2025-01-07 09:00:00", "2025-01-07 09:10:00", 3, "desktop", page_views=1,
                         add_to_carts=1, purchases=1, revenue=Decimal("12.00"))
    ])  # fmt: skip
    # the lake's gold sums p2's order lines of day 2 as recorded: 10.00 USD + 12.00 EUR
    lakedata.write_partition(wh.lake, "product_interactions", D2, [lakedata.product("p2", 0, 1, 2, 2, "22.00")])
    wh.load(D2)
    wh.load(d3)
    with pytest.raises(WarehouseError, match=r"Done\. PASS=\d+ WARN=0 ERROR=1 SKIP=0"):
        wh.build(d3, "--store-failures")

    # the models were built: daily_revenue holds each currency apart, day 3's null row is gone
    assert wh.query(revenue) == [
        (D1, "USD", 1, Decimal("25.00"), Decimal("5.00")),
        (D2, "EUR", 1, Decimal("12.00"), Decimal("0.00")),
        (D2, "USD", 1, Decimal("10.00"), Decimal("0.00")),
        (d3, "EUR", 1, Decimal("40.00"), Decimal("0.00")),
    ]
    # the one failing test: u1's lifetime revenue (dim_users) and p2's day 2 (product_performance)
    # would add dollars to euros
    (schema,) = wh.query(
        "select table_schema from information_schema.tables where table_name = 'assert_summed_money_is_in_one_currency'"
    )[0]
    assert wh.query(f'select * from "{schema}".assert_summed_money_is_in_one_currency order by mart') == [
        ("dim_users", None, "u1", 2),
        ("product_performance", D2, "p2", 2),
    ]


# u2 visits on day 2 only and buys for 600.00 (high_value); the rest is the small lake of conftest.py
U2_EVENTS = [
    ("e30", "page_view", "2025-01-07 12:00:00", {"page_url": "/", "device": "mobile"}),
    ("e31", "purchase", "2025-01-07 12:10:00", {"order_id": "o30", "revenue": Decimal("600.00")}),
]
DAG_LAYERS = ("staging", "intermediate", "marts")  # ecommerce_daily's dbt tasks, in order


def _dag_build(wh, day):  # type: ignore[no-untyped-def]
    """What one ecommerce_daily run does after the lake jobs: load D, then `watershed warehouse
    build --date D --select <layer>` per layer (dbt var run_date = D, the default lookback)."""
    from warehouse.dbt import build_args

    wh.load(day)
    for layer in DAG_LAYERS:
        summary = _summary(wh.dbt(*build_args(day, select=layer)))
        assert summary["ERROR"] == summary["WARN"] == summary["SKIP"] == 0, (day, layer, summary)


def _snapshot(wh, day=None):  # type: ignore[no-untyped-def]
    where = f"where as_of_date = date '{day.isoformat()}'" if day else ""
    return wh.query(f"select * from marts.dim_users_daily {where} order by as_of_date, user_key")


@pytest.fixture(scope="module")
def daily_runs(warehouse_factory, lakedata):  # type: ignore[no-untyped-def]
    """The small lake plus u2 on day 2, run by the DAG day by day: day 1 (only day 1 loaded),
    then day 2. Returns the warehouse and dim_users_daily right after day 1's run."""
    wh = warehouse_factory("dim-users-daily")
    lakedata.write_day(wh.lake, D1)
    lakedata.write_day(wh.lake, D2)
    u2 = [lakedata.event(i, kind, at, "u2", "s-u2", **fields) for i, kind, at, fields in U2_EVENTS]
    u2[1]["items"] = [lakedata.item("p1", 24, "25.00")]
    lakedata.write_partition(wh.lake, "events", D2, [*lakedata.EVENTS[D2], *u2])
    lakedata.write_partition(wh.lake, "sessions", D2, [
        *lakedata.SESSIONS[D2],
        lakedata.session("s-u2", "u2", "2025-01-07 12:00:00", "2025-01-07 12:10:00", 2, "mobile", page_views=1,
                         purchases=1, revenue=Decimal("600.00")),
    ])  # fmt: skip
    lakedata.write_partition(wh.lake, "product_interactions", D2, [
        lakedata.product("p1", 0, 0, 1, 24, "600.00"), *lakedata.GOLD[D2]["product_interactions"]
    ])  # fmt: skip
    _dag_build(wh, D1)
    first_d1 = _snapshot(wh)
    _dag_build(wh, D2)
    return wh, first_d1


# as_of_date, user_key, user_id, is_identified, is_bot, first seen, last seen, sessions, orders, revenue,
# segment, is_active. a1's visit of day 1 ends with a purchase at 00:15 on day 2: it is day 1's session,
# so day 1's snapshot holds it.
SNAPSHOT_D1 = [
    (D1, "a1", None, False, False, datetime(2025, 1, 6, 23, 50), datetime(2025, 1, 7, 0, 15), 1, 1,
     Decimal("10.00"), "one_time_buyer", True),
    (D1, "bot1", None, False, True, datetime(2025, 1, 6, 5), datetime(2025, 1, 6, 5), 1, 0, Decimal("0.00"),
     "bot", True),
    (D1, "u1", "u1", True, False, datetime(2025, 1, 6, 10), datetime(2025, 1, 6, 10, 20), 1, 1, Decimal("25.00"),
     "one_time_buyer", True),
]  # fmt: skip
SNAPSHOT_D2 = [
    (D2, *SNAPSHOT_D1[0][1:]),  # a1 and bot1: not seen on day 2, carried as they were
    (D2, *SNAPSHOT_D1[1][1:]),
    (D2, "u1", "u1", True, False, datetime(2025, 1, 6, 10), datetime(2025, 1, 7, 9, 5), 2, 1, Decimal("25.00"),
     "one_time_buyer", True),
    (D2, "u2", "u2", True, False, datetime(2025, 1, 7, 12), datetime(2025, 1, 7, 12, 10), 1, 1, Decimal("600.00"),
     "high_value", True),
]  # fmt: skip


def test_dim_users_daily_holds_each_user_as_of_the_end_of_each_day(daily_runs):
    wh, first_d1 = daily_runs
    assert first_d1 == SNAPSHOT_D1  # day 1's run, before day 2 was loaded
    assert _snapshot(wh) == SNAPSHOT_D1 + SNAPSHOT_D2  # u2 has no day 1 row: first seen on day 2
    # dim_users is the latest snapshot, in its own columns (as_of_date last)
    assert wh.rows("marts.dim_users", "user_key") == [(*row[1:], row[0]) for row in SNAPSHOT_D2]


def test_a_backfill_of_day_1_after_day_2_rewrites_day_1_as_it_was(daily_runs):
    """Day 1 run again (load + the DAG's dbt tasks for day 1) with day 2 in the warehouse: day 1's
    snapshot is that of day 1's first run, day 2's and dim_users (as of day 2) are unchanged."""
    wh, first_d1 = daily_runs
    users_before = wh.rows("marts.dim_users", "user_key")
    d2_before = _snapshot(wh, D2)

    _dag_build(wh, D1)

    assert _snapshot(wh, D1) == first_d1 == SNAPSHOT_D1
    assert _snapshot(wh, D2) == d2_before == SNAPSHOT_D2
    assert wh.rows("marts.dim_users", "user_key") == users_before
    assert {row[-1] for row in users_before} == {D2}


def test_a_full_refresh_builds_every_day_of_dim_users_daily(daily_runs):
    wh, _ = daily_runs
    assert _summary(wh.build(None, "--full-refresh"))["ERROR"] == 0
    assert _snapshot(wh) == SNAPSHOT_D1 + SNAPSHOT_D2
