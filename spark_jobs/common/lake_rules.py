"""The configurable rules of the lake jobs, with the contract's values as defaults.

Transforms receive these as arguments (never read settings or the environment themselves), so a
test or a backfill can change a rule without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from watershed.contract.fields import EARLIEST_OCCURRED_AT, MAX_CLOCK_SKEW, MAX_EVENT_AGE
from watershed.contract.semantics import LATE_AFTER, SESSION_EVENT_TYPES, SESSION_GAP


@dataclass(frozen=True)
class TimeRules:
    """When an event time is believable, relative to the time the platform received the event
    (``received_at``, else the Kafka timestamp). The same rules place rows in bronze partitions
    and quarantine them in silver, so the two always agree."""

    max_event_age: timedelta = MAX_EVENT_AGE  # older than this on arrival: outside_retention
    max_clock_skew: timedelta = MAX_CLOCK_SKEW  # further ahead than this: future_timestamp
    earliest: datetime = EARLIEST_OCCURRED_AT  # before this: a broken clock (outside_retention)


@dataclass(frozen=True)
class LandingRules:
    time: TimeRules = TimeRules()
    # An event is late when it is received more than this after it occurred (the contract's
    # definition, watershed.contract.semantics; WATERSHED_LATE_AFTER_SECONDS).
    late_after: timedelta = LATE_AFTER


@dataclass(frozen=True)
class SessionRules:
    """Sessionization (watershed.contract.semantics is the reference)."""

    gap: timedelta = SESSION_GAP  # a gap strictly greater than this starts a new session
    event_types: tuple[str, ...] = SESSION_EVENT_TYPES

    def __post_init__(self) -> None:
        # the batch job reads the previous day's tail and the next day: a gap must fit in a day
        if not timedelta(0) < self.gap < timedelta(days=1):
            raise ValueError(f"the session gap must be more than 0 and less than a day (got {self.gap})")
