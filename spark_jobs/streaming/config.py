"""Configuration of the real-time job: windows, watermark, trigger, anomaly thresholds, topics and
where the job keeps its checkpoints, state and heartbeat, and the key of its ad counters in Redis.

Everything has a production default (5-minute windows, 2-minute watermark, 10-second trigger) and
can be made small for tests. Paths default to ``<state_dir>/streaming`` and the lake of
:class:`~watershed.settings.Settings`; no I/O happens here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from watershed.errors import WatershedError
from watershed.settings import Settings

SOURCE_TOPICS = ("user-events", "transaction-data", "ad-events")
METRICS_TOPIC = "real-time-metrics"
ALERTS_TOPIC = "alerts"

_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
_UNIT_SECONDS = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hour", "hours"), 3600.0),
}


class StreamConfigError(WatershedError):
    """The streaming job's options are inconsistent."""


def seconds(duration: str) -> float:
    """'5 minutes' -> 300.0; '10 s' -> 10.0 (the interval strings Spark accepts, in seconds)."""
    match = _DURATION.match(duration.lower())
    if not match or match.group(2) not in _UNIT_SECONDS:
        raise StreamConfigError(f"not a duration: {duration!r} (use e.g. '5 minutes', '10 seconds', '500 ms')")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class Thresholds:
    """Anomaly rules over consecutive windows (source design: +200% traffic, -50% revenue)."""

    spike_ratio: float = 3.0  # traffic more than 200% above the previous window = more than 3x
    revenue_drop_ratio: float = 0.5  # revenue below 50% of the previous window
    min_previous_events: int = 1  # ignore comparisons against (near-)empty windows

    def problems(self) -> list[str]:
        issues = []
        if self.spike_ratio <= 1:
            issues.append(f"spike ratio must be > 1 (got {self.spike_ratio})")
        if not 0 < self.revenue_drop_ratio < 1:
            issues.append(f"revenue drop ratio must be in (0, 1) (got {self.revenue_drop_ratio})")
        if self.min_previous_events < 1:
            issues.append(f"min previous events must be >= 1 (got {self.min_previous_events})")
        return issues


@dataclass(frozen=True)
class StreamConfig:
    window: str = "5 minutes"
    watermark: str = "2 minutes"
    trigger: str = "10 seconds"
    available_now: bool = False  # process what is in Kafka, close the windows it can, stop
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    source_topics: tuple[str, ...] = SOURCE_TOPICS
    metrics_topic: str = METRICS_TOPIC
    alerts_topic: str = ALERTS_TOPIC
    home: Path = Path(".local/streaming")  # checkpoints, anomaly state, heartbeat, pid
    counters_key: str = "watershed:ad_counters"  # key prefix of the ad counters in Redis (counters.py)
    metrics_table: str = ""  # lake URI of the metrics table; "" = <lake>/streaming/realtime_metrics
    slack_url: str | None = None
    pagerduty_url: str | None = None
    pagerduty_routing_key: str | None = None
    alertmanager_url: str | None = None  # set: alerts go to Alertmanager instead of the webhooks

    def __post_init__(self) -> None:
        issues = list(self.thresholds.problems())
        try:
            window, watermark, trigger = seconds(self.window), seconds(self.watermark), seconds(self.trigger)
        except StreamConfigError as error:
            raise StreamConfigError(str(error)) from None
        if window <= 0 or trigger <= 0:
            issues.append("window and trigger must be positive")
        if watermark < 0:
            issues.append("watermark must not be negative")
        if not self.source_topics:
            issues.append("at least one source topic is needed")
        if self.max_offsets_per_trigger is not None and self.max_offsets_per_trigger < 1:
            issues.append("max offsets per trigger must be positive")
        if not self.counters_key or any(c in self.counters_key for c in "{} "):
            issues.append(f"counters key must be non-empty, without braces or spaces (got {self.counters_key!r})")
        if self.pagerduty_url and not self.pagerduty_routing_key:
            issues.append("a PagerDuty URL needs a routing key")
        if issues:
            raise StreamConfigError("; ".join(issues))

    @classmethod
    def for_settings(cls, settings: Settings, **overrides: Any) -> StreamConfig:
        defaults: dict[str, Any] = {
            "home": settings.state_dir / "streaming",
            "metrics_table": settings.lake.rstrip("/") + "/streaming/realtime_metrics",
            "slack_url": settings.alert_webhook_url,
            "alertmanager_url": settings.alertmanager_url,
        }
        return cls(**{**defaults, **{k: v for k, v in overrides.items() if v is not None}})

    def with_(self, **changes: Any) -> StreamConfig:
        return replace(self, **changes)

    # ---- derived -----------------------------------------------------------------------
    @property
    def window_seconds(self) -> float:
        return seconds(self.window)

    @property
    def watermark_seconds(self) -> float:
        return seconds(self.watermark)

    @property
    def trigger_seconds(self) -> float:
        return seconds(self.trigger)

    @property
    def ad_topic(self) -> str:
        """The ad-events topic (the one whose name ends in 'ad-events')."""
        return next((t for t in self.source_topics if t.endswith("ad-events")), self.source_topics[-1])

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"

    @property
    def anomaly_state(self) -> Path:
        return self.home / "anomaly_state.json"

    @property
    def heartbeat(self) -> Path:
        return self.home / "heartbeat.json"

    @property
    def pid_file(self) -> Path:
        return self.home / "job.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "job.log"
