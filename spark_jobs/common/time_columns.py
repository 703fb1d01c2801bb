"""Timestamp arithmetic in microseconds, the way every engine of the platform can repeat it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F


def micros(column: str | Column) -> Column:
    return F.unix_micros(F.col(column) if isinstance(column, str) else column)


def span(delta: timedelta) -> int:
    """A duration in microseconds."""
    return delta // timedelta(microseconds=1)


def instant(moment: datetime) -> int:
    """An aware datetime in microseconds since the epoch."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
