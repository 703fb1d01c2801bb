"""The shared meanings are computable the same way in every engine: the session id formula and
the bot rule give DuckDB the answers the Python reference gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from watershed.contract import BOT_USER_AGENT_PATTERN, SESSION_EVENT_TYPES, is_bot_user_agent, session_id
from watershed.contract.semantics import session_starts

AGENTS = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0", True),
    ("python-requests/2.31.0", True),
    ("curl/8.5.0", True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0.0.0 Safari/537.36", False),
]


def test_session_id_matches_duckdb() -> None:
    key, first = "1419365", "db9e10fb-c389-4d8e-aca7-a66a9fc13e88"
    expected = duckdb.sql(f"select sha256('{key}' || '|' || '{first}')[1:32]").fetchone()
    assert expected is not None and session_id(key, first) == expected[0]
    assert len(session_id(key, first)) == 32


@pytest.mark.parametrize(("agent", "bot"), AGENTS)
def test_bot_rule_agrees_with_duckdb(agent: str, bot: bool) -> None:
    found = duckdb.execute("select regexp_matches(lower(?), ?)", [agent, BOT_USER_AGENT_PATTERN]).fetchone()
    assert found is not None and found[0] is bot
    assert is_bot_user_agent(agent) is bot


def test_missing_agent_is_not_a_bot() -> None:
    assert is_bot_user_agent(None) is False


def test_sessions_are_site_activity() -> None:
    assert "purchase" in SESSION_EVENT_TYPES
    assert not {"refund", "impression", "click", "conversion"} & set(SESSION_EVENT_TYPES)


def test_session_starts_gap_of_exactly_the_gap_stays_one_microsecond_more_starts():
    t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
    times = [
        t0,
        t0 + timedelta(minutes=30),
        t0 + timedelta(minutes=60, microseconds=1),
        t0 + timedelta(minutes=60, microseconds=1),
    ]
    assert session_starts(times) == [True, False, True, False]  # equal timestamps: one session


def test_session_starts_cuts_a_visit_at_the_second_midnight_it_reaches():
    evening = datetime(2026, 11, 19, 23, 50, tzinfo=UTC)
    # 23:50 on D-1, then every 20 minutes: 00:10 on D (one midnight crossed: same session) ...
    times = [evening + timedelta(minutes=20 * i) for i in range(75)]  # ... to 00:30 on D+1
    starts = session_starts(times)
    assert [times[i] for i, s in enumerate(starts) if s] == [evening, datetime(2026, 11, 21, 0, 10, tzinfo=UTC)]
