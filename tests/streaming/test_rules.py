"""Pure parts of the real-time job on inline data: anomaly rules over consecutive windows, webhook
payloads, durations, supervision arithmetic (the counter store: test_counters_redis.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spark_jobs.streaming import anomaly_rules, supervise, webhooks
from spark_jobs.streaming.config import StreamConfig, StreamConfigError, Thresholds, seconds

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def window(i: int, events: int, revenue: str) -> anomaly_rules.WindowMetrics:
    return anomaly_rules.WindowMetrics(
        T0 + i * FIVE, T0 + (i + 1) * FIVE, events, 10, 1, Decimal(revenue), 1, 10, 0, 0.1, 60.0
    )


def test_spike_is_more_than_three_times_the_previous_window():
    t = Thresholds()
    assert anomaly_rules.compare(window(0, 100, "10"), window(1, 300, "10"), t) == []  # exactly +200%: no alert
    [alert] = anomaly_rules.compare(window(0, 100, "10"), window(1, 301, "10"), t)
    assert (alert.rule, alert.ratio, alert.alert_id) == ("traffic_spike", 3.01, "traffic_spike:2026-11-20T09:05:00Z")


def test_revenue_drop_is_below_half_the_previous_window():
    t = Thresholds()
    assert anomaly_rules.compare(window(0, 100, "200.00"), window(1, 100, "100.00"), t) == []  # exactly 50%
    [alert] = anomaly_rules.compare(window(0, 100, "200.00"), window(1, 100, "99.99"), t)
    assert (alert.rule, alert.severity, alert.previous, alert.value) == ("revenue_drop", "critical", 200.0, 99.99)
    assert anomaly_rules.compare(window(0, 100, "0"), window(1, 100, "0"), t) == []  # nothing to drop from


def test_thresholds_are_configurable():
    t = Thresholds(spike_ratio=1.5, revenue_drop_ratio=0.9)
    assert [a.rule for a in anomaly_rules.compare(window(0, 100, "100"), window(1, 151, "89"), t)] == [
        "traffic_spike",
        "revenue_drop",
    ]


def test_only_adjacent_windows_are_compared_and_replays_are_skipped():
    t = Thresholds()
    # window 2 is missing (no events): 3 is not compared with 1
    alerts, last = anomaly_rules.evaluate(None, [window(3, 1000, "1"), window(1, 10, "100")], t)
    assert alerts == [] and last == window(3, 1000, "1")
    alerts, last = anomaly_rules.evaluate(last, [window(3, 1000, "1"), window(4, 5000, "1")], t)  # 3 again: skipped
    assert [a.rule for a in alerts] == ["traffic_spike"] and last == window(4, 5000, "1")


def test_window_metrics_round_trip_through_json():
    w = window(2, 7, "12.34")
    assert anomaly_rules.WindowMetrics.from_json(w.to_json()) == w


def test_webhook_payloads():
    [alert] = anomaly_rules.compare(window(0, 100, "10"), window(1, 400, "10"), Thresholds())
    pd = webhooks.pagerduty_payload(alert, "rk")
    assert pd["routing_key"] == "rk" and pd["event_action"] == "trigger"
    assert pd["dedup_key"] == "watershed:traffic_spike:2026-11-20T09:05:00Z"
    assert pd["payload"]["severity"] == "warning" and pd["payload"]["summary"].startswith("Traffic spike: 400 events")
    assert "Traffic spike" in webhooks.slack_payload(alert)["text"]
    assert webhooks.deliver([alert], slack_url=None, pagerduty_url=None, pagerduty_routing_key=None) == {
        "delivered": 0,
        "failed": 0,
    }


def test_durations_and_config_checks(tmp_path):
    assert (seconds("5 minutes"), seconds("10 seconds"), seconds("500 ms"), seconds("1 hour")) == (300, 10, 0.5, 3600)
    with pytest.raises(StreamConfigError, match="not a duration"):
        StreamConfig(window="five minutes")
    with pytest.raises(StreamConfigError, match="spike ratio"):
        StreamConfig(thresholds=Thresholds(spike_ratio=0.5))
    with pytest.raises(StreamConfigError, match="counters key"):
        StreamConfig(counters_key="{ad}")
    with pytest.raises(StreamConfigError, match="routing key"):
        StreamConfig(pagerduty_url="https://events.pagerduty.com/v2/enqueue")
    assert StreamConfig(home=tmp_path).ad_topic == "ad-events"


def test_supervision_arithmetic():
    assert supervise.lag_from({"a": {"0": 5, "1": 7}}, {"a": {"0": 10, "1": 7, "2": 3}, "b": {"0": 4}}) == {
        "a": 8,
        "b": 4,
    }
    now = datetime(2026, 11, 20, 9, 0, 30, tzinfo=UTC)
    assert supervise.heartbeat_age({"updated_at": "2026-11-20T09:00:00.000Z"}, now) == 30.0
    assert supervise.heartbeat_age({}, now) is None
    assert not supervise.pid_alive(None)


def test_supervise_starts_restarts_and_reports_lag(tmp_path, monkeypatch):
    config = StreamConfig(home=tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(supervise, "start_detached", lambda cfg, args=None: calls.append("start") or 4242)
    monkeypatch.setattr(supervise, "stop", lambda cfg: calls.append("stop") or True)

    def status_of(**report):  # type: ignore[no-untyped-def]
        base = {"running": False, "status": "never started", "heartbeat_age_s": None, "consumer_lag": {"a": 0}}
        monkeypatch.setattr(supervise, "status", lambda settings, cfg: {**base, **report})

    status_of()
    first = supervise.supervise(None, config)  # type: ignore[arg-type]
    assert (first["action"], first["problems"], first["new_pid"]) == ("started", [], 4242)

    status_of(status="failed")  # it died: start it and say so
    assert supervise.supervise(None, config)["problems"] == [  # type: ignore[arg-type]
        "the streaming job was not running (last status: failed)"
    ]

    status_of(running=True, status="running", heartbeat_age_s=600.0, consumer_lag={"a": 900, "b": 200})
    hung = supervise.supervise(None, config, max_heartbeat_age=120, max_lag=1000)  # type: ignore[arg-type]
    assert hung["action"] == "restarted" and calls == ["start", "start", "stop", "start"]
    assert hung["problems"][0] == "no heartbeat for 600 s: restarted the job"
    assert hung["problems"][1].startswith("consumer lag 1100 records > 1000")

    status_of(running=True, status="running", heartbeat_age_s=3.0)
    assert supervise.supervise(None, config)["action"] == "none"  # type: ignore[arg-type]
