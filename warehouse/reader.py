"""Read-only SQL on the warehouse the settings name: the DuckDB file locally, Snowflake in prod.

The quality gates, the ledger and the stream-vs-batch check read the marts through this, so the
same checks run on both. Their statements are written once, in SQL both accept: unquoted
identifiers (Snowflake stores dbt's tables and columns upper-case, DuckDB ignores case), ``?``
parameters (the Snowflake connection uses the ``qmark`` style), ``extract(hour from ...)``.
Result columns come back lower-case from both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from warehouse.loader import WarehouseError
from watershed.settings import Settings

if TYPE_CHECKING:
    import pandas as pd


class MartsReader:
    """A DB-API connection and the errors its statements raise (a missing table, bad SQL)."""

    def __init__(self, connection: Any, errors: tuple[type[Exception], ...], where: str) -> None:
        self.connection, self.errors, self.where = connection, errors, where

    def rows(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, list(params))
            names = [d[0].lower() for d in cursor.description or []]
            return names, [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return next(iter(self.rows(sql, params)[1]), None)

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        import pandas as pd

        names, rows = self.rows(sql, params)
        return pd.DataFrame.from_records(rows, columns=names)

    def has_table(self, schema: str, table: str) -> bool:
        found = self.one(
            "select count(*) from information_schema.tables where upper(table_schema) = upper(?)"
            " and upper(table_name) = upper(?)",
            [schema, table],
        )
        return bool(found and found[0])


@contextmanager
def open_marts(settings: Settings) -> Iterator[MartsReader | None]:
    """The warehouse's reader, or None when the local warehouse file does not exist yet."""
    if settings.warehouse == "duckdb":
        import duckdb

        path = settings.duckdb_file
        if not path.exists():
            yield None
            return
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.execute("set TimeZone = 'UTC'")
            yield MartsReader(con, (duckdb.Error,), f"warehouse {path}")
        finally:
            con.close()
        return
    import snowflake.connector

    from warehouse.snowflake_backend import connect_from_settings

    try:
        con = connect_from_settings(settings, paramstyle="qmark")
    except snowflake.connector.errors.Error as error:
        raise WarehouseError(f"cannot connect to Snowflake account {settings.snowflake_account}: {error}") from None
    try:
        yield MartsReader(
            con,
            (snowflake.connector.errors.Error,),
            f"Snowflake {settings.snowflake_account}.{settings.snowflake_database}",
        )
    finally:
        con.close()
