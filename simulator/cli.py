"""`watershed generate`: simulated shop traffic with ground truth (docs/generator.md).

Kept light to import: numpy, pyarrow and the sinks load inside the command.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

_SOURCES = ("web_analytics", "user_events", "transaction_data", "ad_platform")


def _write_keys(pairs: tuple[str, ...]) -> dict[str, str]:
    """Write keys: the local collector's development keys (WATERSHED_ENV=local only), then
    WATERSHED_WRITE_KEY_<SOURCE>, then --write-key SOURCE=KEY."""
    keys = _development_keys()
    keys |= {
        s: os.environ[f"WATERSHED_WRITE_KEY_{s.upper()}"]
        for s in _SOURCES
        if os.environ.get(f"WATERSHED_WRITE_KEY_{s.upper()}")
    }
    for pair in pairs:
        source, sep, key = pair.partition("=")
        if not sep or source not in _SOURCES or not key:
            raise click.BadParameter(
                f"expected SOURCE=KEY with SOURCE one of {', '.join(_SOURCES)}", param_hint="--write-key"
            )
        keys[source] = key
    return keys


def _development_keys() -> dict[str, str]:
    # the variable itself, not the full settings: a prod shell without warehouse settings can
    # still send traffic, and must not fall back to development keys
    if os.environ.get("WATERSHED_ENV", "local") != "local":
        return {}
    try:
        from collectors.settings import DEV_WRITE_KEYS
    except ImportError:
        return {}
    return dict(DEV_WRITE_KEYS)


def _start_date(value: str, days: int) -> dt.date:
    """A YYYY-MM-DD day, or "recent": the `days` days that end with yesterday (UTC). Only
    "recent" reads the clock; it suits a live collector, which refuses events more than a week
    older than its own clock."""
    if value == "recent":
        return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected YYYY-MM-DD or 'recent' (got {value!r})", param_hint="--start-date"
        ) from None


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (events/, ad_platform/, truth/ are replaced).",
)
@click.option("--events", type=click.IntRange(min=1), help="About this many events (default 100000).")
@click.option("--users", type=click.IntRange(min=1), help="Exactly this many users instead of --events.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@click.option(
    "--start-date",
    default="2025-01-06",
    show_default=True,
    help="First UTC day of the window (YYYY-MM-DD), or 'recent' for the days up to yesterday.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["parquet", "ndjson"]), default="parquet", show_default=True)
@click.option("--sink", type=click.Choice(["files", "kafka", "http"]), default="files", show_default=True)
@click.option("--duplicate-rate", type=float, default=0.0, show_default=True, help="Share of events sent twice.")
@click.option("--late-rate", type=float, default=0.0, show_default=True, help="Share arriving minutes to days late.")
@click.option(
    "--out-of-order-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share arriving after a later event of the same user.",
)
@click.option(
    "--malformed-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share with a missing field, a wrong type, a future or ancient timestamp, or oversize properties.",
)
@click.option("--bot-rate", type=float, default=0.0, show_default=True, help="Share of events sent by crawlers.")
@click.option("--pii-rate", type=float, default=0.0, show_default=True, help="Share carrying raw e-mail, phone and IP.")
@click.option("--rows-per-file", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--kafka-bootstrap", help="Kafka servers (default: the configured local broker).")
@click.option("--collector-url", envvar="WATERSHED_COLLECTOR_URL", default="http://127.0.0.1:8000", show_default=True)
@click.option(
    "--write-key",
    "write_keys",
    multiple=True,
    metavar="SOURCE=KEY",
    help="Write key of a source (or WATERSHED_WRITE_KEY_<SOURCE>).",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="HTTP batches in flight.")
@click.option(
    "--rate", type=click.FloatRange(min=0), default=0.0, show_default=True, help="HTTP events per second (0: no limit)."
)
@click.option("--progress/--no-progress", default=True, help="Progress bar while sending over HTTP.")
def generate(
    out: Path,
    events: int | None,
    users: int | None,
    days: int,
    start_date: str,
    seed: int,
    fmt: str,
    sink: str,
    duplicate_rate: float,
    late_rate: float,
    out_of_order_rate: float,
    malformed_rate: float,
    bot_rate: float,
    pii_rate: float,
    rows_per_file: int,
    kafka_bootstrap: str | None,
    collector_url: str,
    write_keys: tuple[str, ...],
    concurrency: int,
    rate: float,
    progress: bool,
) -> None:
    """Generate simulated shop and ad traffic, with its ground truth in OUT/truth/."""
    from simulator import FaultRates, FileSink, GeneratorConfig, HttpSink, KafkaSink
    from simulator.run import generate as run
    from simulator.sinks import EventSink

    if events is not None and users is not None:
        raise click.UsageError("give --events or --users, not both")
    config = GeneratorConfig(
        seed=seed,
        start_date=_start_date(start_date, days),
        days=days,
        events=events if events is not None or users is not None else 100_000,
        users=users,
        faults=FaultRates(
            duplicate=duplicate_rate,
            late=late_rate,
            out_of_order=out_of_order_rate,
            malformed=malformed_rate,
            bot=bot_rate,
            pii=pii_rate,
        ),
    )
    bar = _ProgressBar() if progress and sink == "http" else None
    target: EventSink
    if sink == "files":
        target = FileSink(out, "ndjson" if fmt == "ndjson" else "parquet", rows_per_file)
    elif sink == "kafka":
        from watershed.settings import load_settings

        target = KafkaSink(kafka_bootstrap or load_settings().kafka_bootstrap)
    else:
        from watershed.contract.fields import MAX_EVENT_AGE

        age = dt.datetime.now(dt.UTC).date() - config.start_date
        if age > MAX_EVENT_AGE:
            click.echo(
                f"warning: the window starts {age.days} days ago; a collector refuses events more than "
                f"{MAX_EVENT_AGE.days} days "
                "older than its clock. Use --start-date recent (with --days 7 or fewer) for a live collector.",
                err=True,
            )
        target = HttpSink(
            collector_url, _write_keys(write_keys), concurrency=concurrency, rate=rate or None, progress=bar
        )
    try:
        summary = run(config, out, target, "ndjson" if fmt == "ndjson" else "parquet")
    finally:
        if bar is not None:
            bar.close()
    click.echo(
        f"{summary['rows']} events ({summary['base_events']} base) to {sink}; {summary['sessions']} sessions, "
        f"{summary['orders']} orders, revenue {summary['revenue']}; truth in {out / 'truth'}"
    )


class _ProgressBar:
    """A click progress bar on stderr, created when the sink reports the total."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, sent: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="sending", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(sent)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
