"""The ground truth equals an independent DuckDB computation over the generated files, written
here in SQL from the rules in docs/contract.md (not from the generator's code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watershed.contract import BOT_USER_AGENT_PATTERN, SESSION_EVENT_TYPES

VALID_EVENTS = """
    -- valid: not listed as malformed; deduplicated: the first received copy of each event_id
    select * from events
    where position not in (select position from faults where kind = 'malformed')
    qualify row_number() over (partition by event_id order by received_at, position) = 1
"""

SESSIONS = f"""
with valid as ({VALID_EVENTS}),
site as (
    select *, coalesce(user_id, anonymous_id) as user_key from valid
    where event_type in ({", ".join(f"'{t}'" for t in SESSION_EVENT_TYPES)})
),
gaps as (
    select *,
        coalesce(occurred_at - lag(occurred_at) over w > interval 30 minutes, true) as starts_session
    from site
    window w as (partition by user_key order by occurred_at, event_id)
),
numbered as (
    select *, sum(starts_session::int) over (partition by user_key order by occurred_at, event_id) as n
    from gaps
),
sessions as (
    select
        user_key,
        arg_min(event_id, (occurred_at, event_id)) as first_event_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        bool_or(coalesce(regexp_matches(lower(user_agent), '{BOT_USER_AGENT_PATTERN}'), false)) as is_bot,
        count(*) filter (event_type = 'page_view') as page_views,
        count(*) filter (event_type = 'product_view') as product_views,
        count(*) filter (event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (event_type = 'begin_checkout') as begin_checkouts,
        count(*) filter (event_type = 'purchase') as purchases,
        coalesce(sum(revenue) filter (event_type = 'purchase'), 0)::decimal(18, 2) as revenue
    from numbered group by user_key, n
)
select
    sha256(user_key || '|' || first_event_id)[1:32] as session_id, user_key,
    started_at::date as session_date, started_at, ended_at, event_count, is_bot,
    page_views, product_views, add_to_carts, begin_checkouts, purchases, revenue, first_event_id
from sessions
"""


def _rows(duck: Any, sql: str) -> list[tuple[Any, ...]]:
    return duck.sql(sql).fetchall()


def test_one_file_keeps_positions(dataset: Path) -> None:
    assert [p.name for p in (dataset / "events").iterdir()] == ["part-00000.parquet"]


def test_sessions_equal_duckdb_sessionization(duck: Any, summary: dict[str, Any]) -> None:
    expected = _rows(duck, f"select * from ({SESSIONS}) order by session_id")
    truth = _rows(duck, "select * from sessions order by session_id")
    assert len(truth) == summary["sessions"] > 1000
    assert truth == expected
    assert 0 < summary["bot_sessions"] == sum(1 for row in truth if row[6])


def test_the_data_exercises_the_30_minute_boundary(duck: Any) -> None:
    """Gaps of exactly 30:00 (same session) and 30:00.001 (new session) both occur."""
    gaps = dict(
        _rows(
            duck,
            f"""
            with valid as ({VALID_EVENTS}),
            site as (select coalesce(user_id, anonymous_id) as k, occurred_at, event_id from valid
                     where event_type in ({", ".join(f"'{t}'" for t in SESSION_EVENT_TYPES)})),
            g as (select occurred_at - lag(occurred_at) over (partition by k order by occurred_at, event_id) as gap
                  from site)
            select gap, count(*) from g
            where gap in (interval 30 minutes, interval 30 minutes + interval 1 millisecond) group by gap
            """,
        )
    )
    assert len(gaps) == 2 and min(gaps.values()) > 0


def test_daily_revenue_equals_duckdb(duck: Any) -> None:
    expected = _rows(
        duck,
        f"""
        with valid as ({VALID_EVENTS})
        select occurred_at::date as date,
            count(*) filter (event_type = 'purchase') as orders,
            coalesce(sum(revenue) filter (event_type = 'purchase'), 0)::decimal(18, 2) as revenue,
            count(*) filter (event_type = 'refund') as refunds,
            coalesce(sum(revenue) filter (event_type = 'refund'), 0)::decimal(18, 2) as refunded
        from valid group by all order by date
        """,
    )
    assert _rows(duck, "select * from revenue_daily order by date") == expected


def test_funnel_equals_duckdb(duck: Any) -> None:
    truth = _rows(
        duck,
        """select date, is_bot, sessions, sessions_with_product_view, sessions_with_add_to_cart,
                  sessions_with_begin_checkout, sessions_with_purchase, page_view_events, purchase_events
           from funnel_daily where sessions > 0 order by date, is_bot""",
    )
    expected = _rows(
        duck,
        f"""
        with s as ({SESSIONS}),
        by_session as (
            select session_date as date, is_bot, count(*) as sessions,
                count(*) filter (product_views > 0), count(*) filter (add_to_carts > 0),
                count(*) filter (begin_checkouts > 0), count(*) filter (purchases > 0)
            from s group by all
        ),
        valid as ({VALID_EVENTS}),
        by_event as (
            select occurred_at::date as date,
                coalesce(regexp_matches(lower(user_agent), '{BOT_USER_AGENT_PATTERN}'), false) as is_bot,
                count(*) filter (event_type = 'page_view') as pv, count(*) filter (event_type = 'purchase') as p
            from valid group by all
        )
        select by_session.*, by_event.pv, by_event.p from by_session join by_event using (date, is_bot)
        order by date, is_bot
        """,
    )
    assert truth == expected


def test_campaign_totals_equal_duckdb(duck: Any) -> None:
    columns = "date, platform, campaign_id, impressions, clicks, conversions, cost, conversion_value"
    expected = _rows(
        duck,
        f"""
        with valid as ({VALID_EVENTS})
        select occurred_at::date as date, platform, campaign_id,
            count(*) filter (event_type = 'impression') as impressions,
            count(*) filter (event_type = 'click') as clicks,
            count(*) filter (event_type = 'conversion') as conversions,
            coalesce(sum(cost), 0)::decimal(18, 6) as cost,
            coalesce(sum(value), 0)::decimal(18, 2) as conversion_value
        from valid where campaign_id is not null group by all order by all
        """,
    )
    assert _rows(duck, f"select {columns} from campaign_totals order by all") == expected
