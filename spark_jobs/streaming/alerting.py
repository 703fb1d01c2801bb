"""Alerting of the real-time job: anomaly rules over each metrics batch's finalized windows.

:class:`Alerting` is called by :class:`~spark_jobs.streaming.sinks.MetricsSink` with the windows
of a micro-batch. It evaluates :mod:`~spark_jobs.streaming.anomaly_rules` against the window
before (kept in `anomaly_state.json`), publishes each alert to the `alerts` topic (key = alert
id) and hands them to :func:`spark_jobs.streaming.webhooks.deliver` (Slack / PagerDuty).

Replays are harmless: the anomaly state records the last batch evaluated, so a batch replayed
after a restart raises no second alert. No Spark import; the Kafka producer is the caller's
(``publish``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from spark_jobs.streaming import anomaly_rules, webhooks
from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.state import now, read_json, write_json

log = logging.getLogger(__name__)

Publish = Callable[[str, list[tuple[str, dict[str, Any]]]], None]
"""Send (key, JSON value) records to a topic; raises when any is not delivered."""


class Alerting:
    """Anomaly state, alerts to the `alerts` topic and to the webhooks, one metrics batch at a time."""

    def __init__(self, config: StreamConfig, publish: Publish) -> None:
        self.config = config
        self.publish = publish

    def __call__(self, windows: list[anomaly_rules.WindowMetrics], batch_id: int) -> None:
        state = read_json(self.config.anomaly_state)
        if state.get("batch_id", -1) >= batch_id:
            return  # evaluated before a restart
        previous = anomaly_rules.WindowMetrics.from_json(state["last_window"]) if state.get("last_window") else None
        alerts, last = anomaly_rules.evaluate(previous, windows, self.config.thresholds)
        if alerts:
            emitted = now()
            records = [(a.alert_id, {**a.to_json(), "emitted_at": emitted}) for a in alerts]
            self.publish(self.config.alerts_topic, records)
            sent = webhooks.deliver(
                alerts,
                slack_url=self.config.slack_url,
                pagerduty_url=self.config.pagerduty_url,
                pagerduty_routing_key=self.config.pagerduty_routing_key,
                alertmanager_url=self.config.alertmanager_url,
            )
            for alert in alerts:
                log.warning("alert %s: %s", alert.alert_id, alert.summary)
            log.info("webhooks: %s", sent)
        write_json(
            self.config.anomaly_state,
            {
                "batch_id": batch_id,
                "last_window": last.to_json() if last else None,
                "alerts_total": int(state.get("alerts_total", 0)) + len(alerts),
            },
        )
