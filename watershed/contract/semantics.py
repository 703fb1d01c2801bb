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
* a session belongs to the UTC day of its first event;
* ``session_id`` = first 32 hex characters of ``sha256(user_key || '|' || first event_id)``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from watershed.contract.events import EVENT_MODELS
from watershed.contract.families import Family

SESSION_GAP = timedelta(minutes=30)

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


def session_id(user_key: str, first_event_id: str) -> str:
    """Reference implementation; Spark: ``substr(sha2(concat(k, '|', e), 256), 1, 32)``,
    DuckDB: ``sha256(k || '|' || e)[1:32]``."""
    return hashlib.sha256(f"{user_key}|{first_event_id}".encode()).hexdigest()[:32]
