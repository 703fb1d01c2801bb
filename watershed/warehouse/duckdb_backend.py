"""The local warehouse: a DuckDB file, loaded from a folder lake with ``read_parquet``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from watershed.warehouse.loader import RAW_SCHEMA, WarehouseError, parquet_files
from watershed.warehouse.tables import PARTITION_COLUMN, RAW_TABLES, RawTable, duckdb_type


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: RawTable) -> str:
    columns = [f"{quote(f.name)} {duckdb_type(f.type)}" for f in table.schema()]
    columns.append(f"{quote(PARTITION_COLUMN)} DATE NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{quote(table.name)} (\n    " + ",\n    ".join(columns) + "\n)"


def _sql_list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def insert_sql(table: RawTable, files: list[Path], day: date) -> str:
    """INSERT of one partition: every declared column cast to its raw type (Spark's INT96 and
    Arrow's UTC timestamps both become TIMESTAMP in UTC), and dt set to the day."""
    names = [f.name for f in table.schema()]
    casts = [f"CAST({quote(f.name)} AS {duckdb_type(f.type)})" for f in table.schema()]
    return (
        f"INSERT INTO {RAW_SCHEMA}.{quote(table.name)} ({', '.join(map(quote, [*names, PARTITION_COLUMN]))})\n"
        f"SELECT {', '.join(casts)}, DATE '{day.isoformat()}'\n"
        f"FROM read_parquet({_sql_list(files)}, union_by_name = true, hive_partitioning = false)"
    )


def _missing_columns(con: Any, table: RawTable, files: list[Path]) -> list[str]:
    # quoted file names, no user text
    sql = f"DESCRIBE SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true, hive_partitioning = false)"  # noqa: S608
    described = con.execute(sql).fetchall()
    present = {row[0] for row in described}
    return [f.name for f in table.schema() if f.name not in present]


def connect(db_file: Path) -> Any:
    import duckdb

    db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_file))
    except duckdb.IOException as error:
        raise WarehouseError(
            f"cannot open the DuckDB warehouse {db_file}: {str(error).splitlines()[0]} "
            "(another process, e.g. dbt, may be using it; retry when it is done)"
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    # raw rows have no meaningful order: let DuckDB insert in parallel with less memory
    con.execute("SET preserve_insertion_order = false")
    return con


def load_duckdb(db_file: Path, lake_root: Path, day: date) -> dict[str, Any]:
    """Replace `day` in every raw table, in one transaction."""
    folders = {t.name: lake_root.joinpath(*t.lake_parts, f"{PARTITION_COLUMN}={day.isoformat()}") for t in RAW_TABLES}
    missing = [f"{'/'.join(t.lake_parts)}" for t in RAW_TABLES if not folders[t.name].is_dir()]
    if missing:
        raise WarehouseError(
            f"the lake at {lake_root} has no {PARTITION_COLUMN}={day.isoformat()} partition of {', '.join(missing)}; "
            f"run `watershed sessionize --date {day}` and `watershed gold --date {day}` first"
        )
    import duckdb

    con = connect(db_file)
    rows: dict[str, int] = {}
    current = ""
    in_transaction = False
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for table in RAW_TABLES:
            con.execute(create_table_sql(table))
        con.execute("BEGIN TRANSACTION")
        in_transaction = True
        for table in RAW_TABLES:
            current = table.name
            files = parquet_files(folders[table.name])
            name = f"{RAW_SCHEMA}.{quote(table.name)}"
            con.execute(f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = DATE '{day}'")  # noqa: S608 - our names, a date
            if files:
                absent = _missing_columns(con, table, files)
                if absent:
                    raise WarehouseError(
                        f"{'/'.join(table.lake_parts)}/{PARTITION_COLUMN}={day} lacks the column(s) "
                        f"{', '.join(absent)} of raw.{table.name}; rebuild it with the current lake jobs"
                    )
                con.execute(insert_sql(table, files, day))
            (count,) = con.execute(
                f"SELECT count(*) FROM {name} WHERE {PARTITION_COLUMN} = DATE '{day}'"  # noqa: S608 - as above
            ).fetchone()
            rows[table.name] = int(count)
        con.execute("COMMIT")
        in_transaction = False
    except duckdb.Error as error:
        where = f"raw.{current}" if current else "the raw schema"
        raise WarehouseError(f"loading {where} for {day} failed: {str(error).splitlines()[0]}") from None
    finally:
        if in_transaction:
            con.execute("ROLLBACK")
        con.close()
    return {"date": day.isoformat(), "target": "duckdb", "database": str(db_file), "rows": rows}
