"""`watershed warehouse load|build|dbt`: the lake into the warehouse, and the dbt marts on it.

Light to import: duckdb, snowflake-connector and dbt load inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from watershed.settings import load_settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_TARGET = click.Choice(["duckdb", "snowflake"])
_TARGET_HELP = "Warehouse (default: the environment's, duckdb locally and snowflake with WATERSHED_ENV=prod)."
_CONN_HELP = "Airflow connection id holding the Snowflake credentials (default: WATERSHED_SNOWFLAKE_* variables)."


@click.group()
def warehouse() -> None:
    """Load lake partitions into the warehouse and build the dbt marts."""


@warehouse.command()
@click.option("--date", "day", type=_DATE, required=True, help="The day (UTC, dt=) whose partitions are loaded.")
@click.option("--target", type=_TARGET, help=_TARGET_HELP)
@click.option("--print-sql", is_flag=True, help="Print the Snowflake statements of the load and stop.")
@click.option(
    "--storage-integration",
    envvar="WATERSHED_SNOWFLAKE_STORAGE_INTEGRATION",
    help="Snowflake storage integration of the lake's stage (default watershed_lake).",
)
@click.option("--snowflake-conn-id", envvar="WATERSHED_SNOWFLAKE_CONN_ID", help=_CONN_HELP)
@click.option(
    "--tables",
    "group",
    type=click.Choice(["shop", "ads"]),
    default="shop",
    show_default=True,
    help="Which raw tables: shop (silver events and sessions, gold product interactions) or ads (silver ad rows).",
)
def load(
    day: datetime,
    target: str | None,
    print_sql: bool,
    storage_integration: str | None,
    snowflake_conn_id: str | None,
    group: str,
) -> None:
    """Replace one day of the lake's silver and gold in the raw schema (idempotent)."""
    from warehouse.loader import load_date

    settings = load_settings()
    if print_sql:
        from warehouse.snowflake_backend import snowflake_statements

        for statement in snowflake_statements(settings, day.date(), storage_integration, group):
            click.echo(statement + ";\n")
        return
    connect: Callable[[], Any] | None = None
    if snowflake_conn_id:
        from warehouse.snowflake_backend import connect_from_airflow

        conn_id = snowflake_conn_id
        connect = lambda: connect_from_airflow(conn_id)  # noqa: E731 - opened only when the load runs

    report = load_date(
        settings,
        day.date(),
        target=target,  # type: ignore[arg-type]
        connect=connect,
        storage_integration=storage_integration,
        group=group,
    )
    click.echo(json.dumps(report, indent=2))


@warehouse.command(context_settings={"ignore_unknown_options": True})
@click.option("--date", "day", type=_DATE, help="Rebuild this day and the lookback days before it (default: all).")
@click.option("--lookback-days", type=click.IntRange(min=0), help="Days before --date rebuilt for late data (2).")
@click.option("--select", help="dbt node selection, e.g. 'marts' or '+daily_revenue'.")
@click.option("--full-refresh", is_flag=True, help="Rebuild the incremental marts from scratch.")
@click.option("--target", type=_TARGET, help=_TARGET_HELP)
@click.option("--snowflake-conn-id", envvar="WATERSHED_SNOWFLAKE_CONN_ID", help=_CONN_HELP)
def build(
    day: datetime | None,
    lookback_days: int | None,
    select: str | None,
    full_refresh: bool,
    target: str | None,
    snowflake_conn_id: str | None,
) -> None:
    """`dbt build`: staging, intermediate and marts with their tests."""
    from warehouse.dbt import build_args, run_dbt, snowflake_env_from_airflow

    args = build_args(
        day.date() if day else None, lookback_days=lookback_days, select=select, full_refresh=full_refresh
    )
    env = snowflake_env_from_airflow(snowflake_conn_id) if snowflake_conn_id else None
    settings = load_settings()
    if (target or settings.warehouse) == "duckdb":
        from warehouse.duckdb_backend import ensure_raw_schema

        # a raw table of a group never loaded (the ads on a shop-only warehouse) exists, empty
        ensure_raw_schema(settings.duckdb_file, settings.duckdb_raw)
    run_dbt(settings, args, target=target, env=env)  # type: ignore[arg-type]


@warehouse.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--target", type=_TARGET, help=_TARGET_HELP)
@click.option("--snowflake-conn-id", envvar="WATERSHED_SNOWFLAKE_CONN_ID", help=_CONN_HELP)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def dbt(target: str | None, snowflake_conn_id: str | None, args: tuple[str, ...]) -> None:
    """Any dbt command on the project with the warehouse's settings, e.g. `watershed warehouse dbt
    docs generate`."""
    from warehouse.dbt import run_dbt, snowflake_env_from_airflow

    env = snowflake_env_from_airflow(snowflake_conn_id) if snowflake_conn_id else None
    run_dbt(load_settings(), list(args), target=target, env=env)  # type: ignore[arg-type]
