"""`watershed stream run|status|supervise|stop` and `watershed ad-counters`.

Light to import: pyspark loads inside `stream run` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from spark_jobs.streaming.config import StreamConfig, Thresholds
from watershed.logs import configure_service, log_format_option
from watershed.settings import load_settings


def _config(home: str | None, **options: Any) -> StreamConfig:
    settings = load_settings()
    overrides = {k: v for k, v in options.items() if v is not None}
    if home:
        overrides["home"] = Path(home)
    return StreamConfig.for_settings(settings, **overrides)


_home = click.option("--home", help="Checkpoints, state, heartbeat and pid [<state_dir>/streaming].")


def _counters_key(help_default: str) -> Any:
    return click.option("--counters-key", help=f"Key prefix of the ad counters in Redis [{help_default}].")


@click.group()
def stream() -> None:
    """The real-time job: windowed metrics, anomaly alerts, live ad counters (docs/streaming.md)."""


@stream.command("run")
@_home
@click.option("--window", default="5 minutes", show_default=True, help="Tumbling event-time window.")
@click.option("--watermark", default="2 minutes", show_default=True, help="How late an event may arrive.")
@click.option("--trigger", default="10 seconds", show_default=True, help="Micro-batch interval.")
@click.option("--available-now", is_flag=True, help="Process what Kafka holds, close what windows it can, stop.")
@click.option("--max-offsets-per-trigger", type=int, help="Cap on records per micro-batch.")
@click.option("--starting-offsets", default="earliest", show_default=True, help="Where a new checkpoint starts.")
@click.option("--spike-ratio", type=float, default=3.0, show_default=True, help="Alert when events > ratio x previous.")
@click.option(
    "--revenue-drop-ratio", type=float, default=0.5, show_default=True, help="Alert when revenue < ratio x previous."
)
@click.option("--topic-prefix", default="", help="Prefix of every topic name (isolated test or bench runs).")
@_counters_key("watershed:<topic prefix>ad_counters")
@click.option("--metrics-table", help="Lake URI of the metrics table [<lake>/streaming/realtime_metrics].")
@click.option("--slack-url", envvar="WATERSHED_ALERT_WEBHOOK_URL", help="Slack-style incoming webhook.")
@click.option("--pagerduty-url", envvar="WATERSHED_PAGERDUTY_EVENTS_URL", help="PagerDuty Events v2 endpoint.")
@click.option("--pagerduty-routing-key", envvar="WATERSHED_PAGERDUTY_ROUTING_KEY", help="PagerDuty routing key.")
@log_format_option()
def run_command(
    home: str | None,
    spike_ratio: float,
    revenue_drop_ratio: float,
    topic_prefix: str,
    counters_key: str | None,
    log_format: str,
    **options: Any,
) -> None:
    """Run the job in the foreground until SIGTERM (or, with --available-now, until drained)."""
    configure_service(log_format)  # a long-running service: JSON lines at INFO
    from spark_jobs.streaming import job
    from spark_jobs.streaming.config import ALERTS_TOPIC, METRICS_TOPIC, SOURCE_TOPICS

    config = _config(
        home,
        thresholds=Thresholds(spike_ratio=spike_ratio, revenue_drop_ratio=revenue_drop_ratio),
        source_topics=tuple(topic_prefix + t for t in SOURCE_TOPICS),
        metrics_topic=topic_prefix + METRICS_TOPIC,
        alerts_topic=topic_prefix + ALERTS_TOPIC,
        counters_key=counters_key or f"watershed:{topic_prefix}ad_counters",
        **options,
    )
    final = job.run(load_settings(), config)
    click.echo(json.dumps({"status": final.get("status"), "queries": final.get("queries")}, default=str))


@stream.command("status")
@_home
@click.option("--no-lag", is_flag=True, help="Skip asking Kafka for the consumer lag.")
def status_command(home: str | None, no_lag: bool) -> None:
    """Is the job running; heartbeat age, watermark, late events, consumer lag (JSON)."""
    from spark_jobs.streaming import supervise

    click.echo(json.dumps(supervise.status(load_settings(), _config(home), with_lag=not no_lag), default=str))


@stream.command("supervise")
@_home
@click.option("--max-heartbeat-age", type=float, default=120.0, show_default=True)
@click.option("--max-lag", type=int, default=500_000, show_default=True)
def supervise_command(home: str | None, max_heartbeat_age: float, max_lag: int) -> None:
    """One supervision round: start the job if needed, restart it if its heartbeat is stale."""
    from spark_jobs.streaming import supervise

    report = supervise.supervise(load_settings(), _config(home), max_heartbeat_age=max_heartbeat_age, max_lag=max_lag)
    click.echo(json.dumps(report, default=str))


@stream.command("stop")
@_home
def stop_command(home: str | None) -> None:
    """Stop the detached job (SIGTERM, then SIGKILL after 30 s)."""
    from spark_jobs.streaming import supervise

    click.echo("stopped" if supervise.stop(_config(home)) else "not running")


@click.command("ad-counters")
@_counters_key("watershed:ad_counters")
@click.option("--campaign", help="Only this campaign.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Only the events that occurred on this UTC day.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def ad_counters(counters_key: str | None, campaign: str | None, day: Any, as_json: bool) -> None:
    """Live per-campaign ad counters from Redis: impressions, clicks, conversions, CTR, revenue, ROAS
    (since the job began, or of one day with --date)."""
    from spark_jobs.streaming import counters

    settings = load_settings()
    client = counters.connect(settings)
    try:
        key = _config(None, counters_key=counters_key).counters_key
        rows = counters.read(client, key, campaign, day=day.date().isoformat() if day else None)
    finally:
        client.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no ad counters yet (is `watershed stream run` running?)")
        return
    click.echo(f"{'campaign':<24}{'impr':>10}{'clicks':>9}{'conv':>7}{'ctr':>8}{'revenue':>13}{'roas':>8}")
    for r in rows:
        ctr = f"{r['ctr']:.2%}" if r["ctr"] is not None else "-"
        roas = f"{r['roas']:.2f}" if r["roas"] is not None else "-"
        click.echo(
            f"{r['campaign_id']:<24}{r['impressions']:>10}{r['clicks']:>9}{r['conversions']:>7}{ctr:>8}"
            f"{r['revenue']:>13}{roas:>8}"
        )
