"""The `watershed` command line.

Each capability lives in its own module and contributes one click command or group, listed in
``_COMMANDS``; this file only wires them together, sets up logging once (:mod:`watershed.logs`:
``-v``/``--log-level``/``WATERSHED_LOG_LEVEL``, WARNING by default), lists the commands in ``--help``
under the room each comes from, hands ``watershed config show`` every settings model
(``_SETTINGS_MODELS``) and turns :class:`WatershedError` into one clear line on stderr (exit
code 2) instead of a traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from watershed import logs
from watershed.config_cli import SettingsModel, config_group
from watershed.errors import WatershedError
from watershed.settings import Settings

# "module:attribute" of every top-level command. Modules must be light to import: heavy
# libraries (pyspark, pandas, great_expectations) are imported inside the commands.
_COMMANDS = [
    "watershed.stack.cli:stack",
    "watershed.demo:demo",
    "collectors.cli:collector",
    "spark_jobs.cli:land",
    "spark_jobs.cli:sessionize",
    "spark_jobs.cli:gold",
    "simulator.cli:generate",
    "simulator.fakes.cli:fake_ad_api",
    "watershed.contract.cli:contract",
    "spark_jobs.streaming.cli:stream",
    "spark_jobs.streaming.cli:ad_counters",
    "quality.cli:quality",
    "warehouse.cli:warehouse",
    "extractors.cli:ads",
    "monitoring.cli:monitor",
]

# The rooms of docs/architecture.md in the order `watershed --help` lists them, with a heading each.
_ROOMS = {
    "watershed": "core (watershed/) - configuration, the local stack, the event contract, the demo",
    "collectors": "collectors/ - the HTTP event collector",
    "simulator": "simulator/ - the traffic generator",
    "spark_jobs": "spark_jobs/ - landing, the batch jobs and the real-time job",
    "warehouse": "warehouse/ - the warehouse (DuckDB or Snowflake) and dbt",
    "quality": "quality/ - the quality gates and the event ledger",
    "monitoring": "monitoring/ - the platform's own metrics and alert rules",
    "extractors": "extractors/ - the ad platforms' campaign reports, into the lake",
}


# ---- the settings models of `watershed config show` (components load when the command runs) ----


def _collector_settings(platform: Settings) -> Any:
    from collectors.settings import load_collector_settings

    return load_collector_settings()


def _quality_settings(platform: Settings) -> Any:
    from quality.settings import load_quality_settings

    return load_quality_settings()


def _stream_config(platform: Settings) -> Any:
    from spark_jobs.streaming.config import StreamConfig

    # what `watershed stream run` resolves without options (it reads these two variables too)
    return StreamConfig.for_settings(
        platform,
        pagerduty_url=os.environ.get("WATERSHED_PAGERDUTY_EVENTS_URL"),
        pagerduty_routing_key=os.environ.get("WATERSHED_PAGERDUTY_ROUTING_KEY"),
    )


def _ad_settings(platform: Settings) -> Any:
    from extractors.settings import load_ad_settings

    return load_ad_settings()


_SETTINGS_MODELS = (
    SettingsModel("watershed", lambda platform: platform),
    SettingsModel("collectors", _collector_settings),
    SettingsModel("quality", _quality_settings, secrets=("webhook_url",)),
    SettingsModel("streaming", _stream_config, secrets=("slack_url", "pagerduty_routing_key")),
    SettingsModel("ads", _ad_settings),
)


class _RoomGroup(click.Group):
    """A group whose help lists the commands under the room (top-level package) each comes from."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        by_room: dict[str, list[tuple[str, click.Command]]] = {}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            by_room.setdefault(_room_of(command), []).append((name, command))
        if not by_room:
            return
        width = max(len(name) for commands in by_room.values() for name, _ in commands)
        limit = formatter.width - 6 - width
        rooms = [*_ROOMS, *sorted(set(by_room) - set(_ROOMS))]
        for room in rooms:
            if room in by_room:
                with formatter.section(_ROOMS.get(room, f"{room}/")):
                    formatter.write_dl(
                        [(name.ljust(width), command.get_short_help_str(limit)) for name, command in by_room[room]]
                    )
        idle = [_ROOMS[room] for room in _ROOMS if room not in by_room]
        if idle:
            with formatter.section("Rooms without a command of their own"):
                for line in idle:
                    formatter.write_text(line)


def _room_of(command: click.Command) -> str:
    module = getattr(command.callback, "__module__", None) or ""
    return module.split(".")[0] or "watershed"


@click.group(cls=_RoomGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="watershed")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr: -v INFO, -vv DEBUG [default WARNING].")
@click.option(
    "--log-level",
    type=click.Choice(logs.LEVELS, case_sensitive=False),
    envvar=logs.LEVEL_ENV,
    show_envvar=True,
    help="Log level (given here it wins over -v, and -v over the variable) "
    "[default WARNING; the long-running services INFO].",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, log_level: str | None) -> None:
    """Watershed: batch + stream analytics platform (see README.md)."""
    chosen: int | None = None
    from_env = ctx.get_parameter_source("log_level") is ParameterSource.ENVIRONMENT
    if log_level and not from_env:
        chosen = logs.level_number(log_level)
    elif verbose:
        chosen = logging.INFO if verbose == 1 else logging.DEBUG
    elif log_level:
        chosen = logs.level_number(log_level)
    ctx.meta[logs.CHOSEN_LEVEL] = chosen
    logs.configure(chosen or logging.WARNING)


for _spec in _COMMANDS:
    _module, _attr = _spec.split(":")
    cli.add_command(getattr(importlib.import_module(_module), _attr))
cli.add_command(config_group(_SETTINGS_MODELS))


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="watershed", standalone_mode=False)
    except WatershedError as error:
        click.echo(f"error: {error}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
