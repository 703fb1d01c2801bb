"""`watershed stack up|down|status|logs`."""

from __future__ import annotations

import shlex
import time

import click

from watershed.settings import load_settings
from watershed.stack.stack import SERVICES, Stack

_services = click.argument("services", nargs=-1, type=click.Choice(sorted(SERVICES)))


@click.group()
def stack() -> None:
    """Run the local services as plain processes under .local/ (docs/stack.md)."""


@stack.command()
@_services
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Also start the ad platforms' fakes, PostgreSQL and Airflow, and the monitoring.",
)
@click.option(
    "--spark-cluster",
    is_flag=True,
    help="Also start a Spark standalone cluster: a master and two workers (docs/stack.md).",
)
def up(services: tuple[str, ...], every: bool, spark_cluster: bool) -> None:
    """Start the services (Kafka, S3 and Redis by default); a second `up` is harmless."""
    Stack(load_settings(), services, every=every, spark_cluster=spark_cluster).up(echo=click.echo)


@stack.command()
@_services
def down(services: tuple[str, ...]) -> None:
    """Stop what `up` started (every service by default), and only that."""
    Stack(load_settings(), services, every=True, spark_cluster=not services).down(echo=click.echo)


@stack.command()
@_services
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Also show the ad platforms' fakes, PostgreSQL and Airflow, and the monitoring.",
)
def status(services: tuple[str, ...], every: bool) -> None:
    """Print each service with its health; exit 1 when one is not running."""
    rows = Stack(load_settings(), services, every=every).status()
    for row in rows:
        pid = str(row.pid) if row.pid else "-"
        click.echo(f"{row.name:<12} {row.state:<10} pid {pid:<8} {row.address:<24} {row.detail}")
    if any(row.state != "running" for row in rows):
        raise SystemExit(1)


@stack.command()
@click.argument("service", type=click.Choice(["airflow"]))
def env(service: str) -> None:
    """Print the shell exports that point a client at the stack's service, for
    `eval "$(watershed stack env airflow)"` (the airflow CLI then uses the stack's database)."""
    for name, value in Stack(load_settings(), [service]).service(service).client_environment().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@stack.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.option("-n", "--lines", default=50, show_default=True, help="Lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
def logs(service: str, lines: int, follow: bool) -> None:
    """Show a service's log."""
    the_stack = Stack(load_settings(), [service])
    svc = the_stack.service(service)
    click.echo(the_stack.tail(svc, lines))
    if follow and svc.log.exists():
        with open(svc.log, errors="replace") as handle:
            handle.seek(0, 2)
            while True:
                line = handle.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.5)
