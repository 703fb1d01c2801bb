"""Anomaly rules over consecutive windows, as pure functions (no Spark, no I/O).

* traffic spike: a window's events are more than ``spike_ratio`` x the previous window's
  (default 3.0: more than 200% above);
* revenue drop: a window's revenue is below ``revenue_drop_ratio`` x the previous window's
  (default 0.5).

"Previous" means the window immediately before (start = this start - window length). A gap (an
empty window was never emitted) breaks the chain: nothing is compared across it. Each alert has a
deterministic id (rule + window start), so re-sending one after a restart is recognisably the
same alert (PagerDuty's dedup_key, the key of the Kafka record).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from spark_jobs.streaming.config import Thresholds


@dataclass(frozen=True)
class WindowMetrics:
    window_start: datetime
    window_end: datetime
    total_events: int
    unique_users: int
    purchases: int
    revenue: Decimal
    purchasing_users: int
    site_users: int
    late_events: int
    buyer_share: float
    avg_session_duration_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "total_events": self.total_events,
            "unique_users": self.unique_users,
            "purchases": self.purchases,
            "revenue": str(self.revenue),
            "purchasing_users": self.purchasing_users,
            "site_users": self.site_users,
            "late_events": self.late_events,
            "buyer_share": self.buyer_share,
            "avg_session_duration_s": self.avg_session_duration_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WindowMetrics:
        return cls(
            window_start=datetime.fromisoformat(data["window_start"]),
            window_end=datetime.fromisoformat(data["window_end"]),
            total_events=int(data["total_events"]),
            unique_users=int(data["unique_users"]),
            purchases=int(data["purchases"]),
            revenue=Decimal(str(data["revenue"])),
            purchasing_users=int(data["purchasing_users"]),
            site_users=int(data["site_users"]),
            late_events=int(data.get("late_events", 0)),
            buyer_share=float(data["buyer_share"]),
            avg_session_duration_s=data.get("avg_session_duration_s"),
        )


@dataclass(frozen=True)
class Alert:
    rule: str  # "traffic_spike" | "revenue_drop"
    window_start: datetime
    window_end: datetime
    value: float
    previous: float
    ratio: float | None
    threshold: float
    severity: str

    @property
    def alert_id(self) -> str:
        return f"{self.rule}:{_iso(self.window_start)}"

    @property
    def summary(self) -> str:
        window = f"{self.window_start:%Y-%m-%d %H:%M}-{self.window_end:%H:%M} UTC"
        if self.rule == "traffic_spike":
            return (
                f"Traffic spike: {self.value:.0f} events in {window}, "
                f"{self.ratio:.1f}x the previous window ({self.previous:.0f})"
            )
        return (
            f"Revenue drop: {self.value:.2f} revenue in {window}, "
            f"{self.ratio:.0%} of the previous window ({self.previous:.2f})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "severity": self.severity,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "value": self.value,
            "previous": self.previous,
            "ratio": self.ratio,
            "threshold": self.threshold,
            "summary": self.summary,
        }


def compare(previous: WindowMetrics, current: WindowMetrics, thresholds: Thresholds) -> list[Alert]:
    """The alerts `current` raises against the window just before it."""
    if current.window_start != previous.window_end or previous.total_events < thresholds.min_previous_events:
        return []
    alerts = []
    if current.total_events > thresholds.spike_ratio * previous.total_events:
        alerts.append(
            Alert(
                rule="traffic_spike",
                window_start=current.window_start,
                window_end=current.window_end,
                value=float(current.total_events),
                previous=float(previous.total_events),
                ratio=current.total_events / previous.total_events,
                threshold=thresholds.spike_ratio,
                severity="warning",
            )
        )
    if previous.revenue > 0 and current.revenue < Decimal(str(thresholds.revenue_drop_ratio)) * previous.revenue:
        alerts.append(
            Alert(
                rule="revenue_drop",
                window_start=current.window_start,
                window_end=current.window_end,
                value=float(current.revenue),
                previous=float(previous.revenue),
                ratio=float(current.revenue / previous.revenue),
                threshold=thresholds.revenue_drop_ratio,
                severity="critical",
            )
        )
    return alerts


def evaluate(
    previous: WindowMetrics | None, windows: Iterable[WindowMetrics], thresholds: Thresholds
) -> tuple[list[Alert], WindowMetrics | None]:
    """Run the rules over newly finalized `windows` (any order), starting from the last window
    seen before them; return the alerts and the new "last window" to keep."""
    alerts: list[Alert] = []
    last = previous
    for window in sorted(windows, key=lambda w: w.window_start):
        if last is not None and window.window_start <= last.window_start:
            continue  # already evaluated (a replayed batch)
        if last is not None:
            alerts.extend(compare(last, window, thresholds))
        last = window
    return alerts, last


def window_length(metrics: WindowMetrics) -> timedelta:
    return metrics.window_end - metrics.window_start


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment.tzinfo else moment.isoformat() + "Z"
