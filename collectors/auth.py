"""Write keys on the wire and per-key rate limits.

A key arrives as ``Authorization: Bearer <key>`` or as HTTP Basic with the key as the user name
and an empty password (what Segment's libraries send). The settings hold only key digests and
compare in constant time (:meth:`CollectorSettings.find_source`).
"""

from __future__ import annotations

import base64
import binascii
import math
import time


def presented_key(header: str | None) -> str | None:
    """The write key carried by an Authorization header (None when there is none)."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        user = decoded.partition(":")[0]
        return user or None
    return None


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved; one token per event."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, count: int) -> float:
        """Take `count` tokens and return 0, or take none and return the seconds until
        `count` tokens will be there."""
        if not self.rate:
            return 0.0
        self._refill()
        if self.tokens >= count:
            self.tokens -= count
            return 0.0
        return (count - self.tokens) / self.rate

    def empty(self) -> float:
        """Seconds until one token is there (0 when one is there now); takes nothing."""
        if not self.rate:
            return 0.0
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


def retry_after_seconds(wait: float) -> int:
    """A Retry-After value (whole seconds, at least 1) for a wait in seconds."""
    return max(1, math.ceil(wait))
