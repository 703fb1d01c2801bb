"""The `watershed` command line.

Each capability lives in its own module and contributes one click command or group, listed in
``_COMMANDS``; this file only wires them together, sets up logging once (:mod:`watershed.logs`:
``-v``/``--log-level``/``WATERSHED_LOG_LEVEL``, WARNING by default) and turns
:class:`WatershedError` into one clear line on stderr (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click
from click.core import ParameterSource

from watershed import logs
from watershed.errors import WatershedError

# "module:attribute" of every top-level command. Modules must be light to import: heavy
# libraries (pyspark, pandas, great_expectations) are imported inside the commands.
_COMMANDS = [
    "watershed.stack.cli:stack",
    "watershed.config_cli:config",
    "watershed.demo:demo",
    "collectors.cli:collector",
    "spark_jobs.cli:land",
    "spark_jobs.cli:sessionize",
    "spark_jobs.cli:gold",
    "simulator.cli:generate",
    "watershed.contract.cli:contract",
    "spark_jobs.streaming.cli:stream",
    "spark_jobs.streaming.cli:ad_counters",
    "quality.cli:quality",
    "warehouse.cli:warehouse",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
