"""`watershed land`, `watershed sessionize --date D`, `watershed gold --date D`.

Light to import: pyspark loads inside the commands.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from watershed.logs import configure_service, log_format_option
from watershed.settings import load_settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime) -> date:
    return value.date()


def _publish(job: str, report: dict[str, Any], started: float) -> None:
    """Push the run's figures to the Pushgateway when one is configured (spark_jobs/metrics.py)."""
    url = load_settings().pushgateway_url
    if url:
        from spark_jobs.metrics import job_run, push

        push(job_run(job, report, time.monotonic() - started), url)


def _session(app: str) -> Any:
    from spark_jobs.session import spark_session

    return spark_session(load_settings(), app_name=app)


@click.command()
@click.option(
    "--continuous",
    is_flag=True,
    help="Keep landing micro-batches until stopped (default: land what is available now, then stop).",
)
@click.option(
    "--trigger-interval", default="10 seconds", show_default=True, help="Micro-batch interval with --continuous."
)
@click.option(
    "--starting-offsets",
    default="earliest",
    show_default=True,
    help="Where a new checkpoint starts: earliest, latest, or Kafka's JSON of offsets per topic and partition.",
)
@click.option("--max-offsets-per-trigger", type=int, help="Cap on records per micro-batch.")
@click.option("--checkpoint", help="Checkpoint location (default <lake>/_checkpoints/landing).")
@click.option(
    "--late-after-seconds",
    type=float,
    help="An event received more than this after it occurred is late (default WATERSHED_LATE_AFTER_SECONDS, 300).",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="The end of the run's data interval (UTC unless an offset is given), recorded in the run report;"
    " see --run-type.",
)
@click.option(
    "--run-type",
    default="manual",
    show_default=True,
    help="Airflow's run type. A backfill run whose --until bronze already reaches lands nothing, so"
    " re-processing an old day reads its bronze as it is instead of landing what Kafka holds now.",
)
@log_format_option(default=None)
def land(
    continuous: bool,
    trigger_interval: str,
    starting_offsets: str,
    max_offsets_per_trigger: int | None,
    checkpoint: str | None,
    late_after_seconds: float | None,
    until: datetime | None,
    run_type: str,
    log_format: str | None,
) -> None:
    """Land Kafka events in bronze (exactly once, checkpointed)."""
    if until is not None and continuous:
        raise click.UsageError("--until binds one run to a data interval; it cannot be combined with --continuous")
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if continuous:  # a long-running service: JSON lines at INFO
        configure_service(log_format or "json")
    elif log_format is not None:
        configure_service(log_format, default_level=logging.WARNING)
    from spark_jobs.common.lake_rules import LandingRules
    from spark_jobs.landing.job import run_landing

    settings = load_settings()
    started = time.monotonic()
    spark = _session("watershed-land")
    report = run_landing(
        spark,
        settings,
        continuous=continuous,
        trigger_interval=trigger_interval,
        starting_offsets=starting_offsets,
        max_offsets_per_trigger=max_offsets_per_trigger,
        checkpoint=checkpoint,
        rules=None if late_after_seconds is None else LandingRules(late_after=timedelta(seconds=late_after_seconds)),
        until=until,
        backfill=run_type == "backfill",
        echo=click.echo,
    )
    if not continuous:  # a bounded run has figures of its own; the continuous one is a service
        _publish("land", report, started)
    click.echo(json.dumps(report, indent=2))


@click.command()
@click.option("--date", "day", type=_DATE, required=True, help="The day (UTC) whose partitions are rebuilt.")
@click.option(
    "--gap-minutes",
    type=click.FloatRange(0, 24 * 60, min_open=True, max_open=True),
    default=30,
    show_default=True,
    help="Inactivity that ends a session.",
)
def sessionize(day: datetime, gap_minutes: float) -> None:
    """Validate, deduplicate and sessionize bronze into silver for one day."""
    from spark_jobs.batch.jobs.sessionize import run_sessionize
    from spark_jobs.common.lake_rules import SessionRules

    started = time.monotonic()
    spark = _session("watershed-sessionize")
    report = run_sessionize(spark, load_settings(), _day(day), SessionRules(gap=timedelta(minutes=gap_minutes)))
    _publish("sessionize", report, started)
    click.echo(json.dumps(report, indent=2))


@click.command()
@click.option("--date", "day", type=_DATE, required=True, help="The day (UTC) whose partitions are rebuilt.")
def gold(day: datetime) -> None:
    """Build the gold product interactions of one day from silver (the other aggregates are dbt marts)."""
    from spark_jobs.batch.jobs.gold import run_gold

    started = time.monotonic()
    spark = _session("watershed-gold")
    report = run_gold(spark, load_settings(), _day(day))
    _publish("gold", report, started)
    click.echo(json.dumps(report, indent=2))
