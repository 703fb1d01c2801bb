"""The `watershed` command line.

Each capability lives in its own module and contributes one click command or group, listed in
``_COMMANDS``; this file only wires them together and turns :class:`WatershedError` into one
clear line on stderr (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

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
def cli() -> None:
    """Watershed: batch + stream analytics platform (see README.md)."""


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
