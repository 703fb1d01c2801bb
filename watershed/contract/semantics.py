"""Shared meanings every layer must compute the same way: sessions, bots, user keys.

Spark, DuckDB/dbt and the generator's ground truth each implement these rules in their own
engine; the constants and the reference Python functions here are what they are tested against.

Sessionization (docs/contract.md has the prose):

* events: valid, deduplicated (by event_id, first received kept) events of
  :data:`SESSION_EVENT_TYPES`;
* user key: ``coalesce(user_id, anonymous_id)``;
* order: ``(occurred_at, event_id)`` per user key;
* a new session starts when the gap to the previous event is strictly greater than
  :data:`SESSION_GAP` (a gap of exactly 30:00 stays in the session);
* the longest session: a *visit* (a run of events with no such gap) may cross one UTC midnight
  in one session; at the first event of each later day the visit reaches, a new session starts
  (the visit has gone on since before the previous midnight). A session therefore ends before
  the second midnight after the day it starts, is under 48 hours long, and the run for day D
  needs no history before the last :data:`SESSION_GAP` of D-2 (see :func:`session_starts`);
* a session belongs to the UTC day of its first event;
* ``session_id`` = first 32 hex characters of ``sha256(user_key || '|' || first event_id)``.

Lateness: an event is **late** when the platform received it more than :data:`LATE_AFTER` after
it occurred (``received_at - occurred_at``; the Kafka timestamp when ``received_at`` is missing),
and its event time is believable (an event time outside the retention window or ahead of the
clock is quarantined as such, not counted late as well). Landing flags it (bronze ``is_late``),
the bronze gate bounds the day's share of it and the real-time job counts it per window
(``late_events``). ``WATERSHED_LATE_AFTER_SECONDS`` sets the bound for all three.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from watershed.contract.events import EVENT_MODELS
from watershed.contract.families import Family

SESSION_GAP = timedelta(minutes=30)
LATE_AFTER = timedelta(minutes=5)  # received more than this after it occurred: late

# What the visitor does on the site, plus the purchase that ends a visit. Refunds (days later,
# from the back office) and ad-platform events (on someone else's site) are not visits.
SESSION_EVENT_TYPES: tuple[str, ...] = (
    *(t for t, model in EVENT_MODELS.items() if model.family is Family.USER_EVENTS),
    "purchase",
)

# Matched against lower(user_agent) anywhere in the string. Plain alternation, no flags or
# look-arounds, so Python re, Java (Spark rlike), RE2 (DuckDB regexp_matches) and Snowflake
# (regexp_instr > 0) agree.
BOT_USER_AGENT_PATTERN = (
    r"bot|crawl|spider|slurp|headless|python-requests|python-urllib|curl/|wget/|scrapy|"
    r"go-http-client|java/|okhttp|phantomjs|lighthouse"
)
_BOT = re.compile(BOT_USER_AGENT_PATTERN)


def is_bot_user_agent(user_agent: str | None) -> bool:
    """True when the user agent announces an automated client (missing agent: not a bot)."""
    return user_agent is not None and _BOT.search(user_agent.lower()) is not None


def user_key(user_id: str | None, anonymous_id: str | None) -> str | None:
    return user_id if user_id is not None else anonymous_id


def session_starts(times: Sequence[datetime], gap: timedelta = SESSION_GAP) -> list[bool]:
    """Reference rule: for one user key's session events in ``(occurred_at, event_id)`` order
    (aware datetimes), whether each starts a session.

    A gap over `gap` starts a session (and a new visit). So does the first event of a UTC day
    when its visit began two or more days earlier, i.e. has been going on since before the
    previous midnight: a visit from 08:00 on D-1 to 02:00 on D+1 is one session until D's last
    event and a second one from D+1's first."""
    starts: list[bool] = []
    visit_day = previous = None
    for t in times:
        day = t.astimezone(UTC).date()
        if previous is None or visit_day is None or t - previous > gap:
            visit_day = day
            starts.append(True)
        else:
            starts.append(day > previous.astimezone(UTC).date() and (day - visit_day).days >= 2)
        previous = t
    return starts


def session_id(user_key: str, first_event_id: str) -> str:
    """Reference implementation; Spark: ``substr(sha2(concat(k, '|', e), 256), 1, 32)``,
    DuckDB: ``sha256(k || '|' || e)[1:32]``."""
    return hashlib.sha256(f"{user_key}|{first_event_id}".encode()).hexdigest()[:32]
