"""The local warehouse: a DuckDB file over a folder lake.

Two ways to put a day in the raw schema (``Settings.duckdb_raw``), same tables, same rows:

* ``attach`` (default): every raw table is a view over the Parquet files of the days loaded, read
  with ``read_parquet``; ``raw._partitions`` lists those days. A load checks the day's files and
  swaps the views in one transaction: nothing is copied, so loading costs milliseconds and the marts
  are the only copy in the DuckDB file. The views read the lake when queried: a lake job rewriting
  a loaded day changes what ``raw`` shows (load the day again to pick up a changed row count).
* ``copy``: the day's rows are written into DuckDB tables (delete the day, insert it); the file is
  self-contained, at about 8 CPU seconds per million events.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from warehouse.loader import RAW_SCHEMA, WarehouseError, parquet_files
from warehouse.tables import PARTITION_COLUMN, PRODUCERS, RAW_TABLES, RawTable, duckdb_type, table_group


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: RawTable) -> str:
    columns = [f"{quote(f.name)} {duckdb_type(f.type)}" for f in table.schema()]
    columns.append(f"{quote(PARTITION_COLUMN)} DATE NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{quote(table.name)} (\n    " + ",\n    ".join(columns) + "\n)"


def _sql_list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def _casts(table: RawTable) -> str:
    # Spark's INT96 and Arrow's UTC timestamps both become TIMESTAMP in UTC
    return ", ".join(f"CAST({quote(f.name)} AS {duckdb_type(f.type)}) AS {quote(f.name)}" for f in table.schema())


def insert_sql(table: RawTable, files: list[Path], day: date) -> str:
    """INSERT of one partition (copy mode): every declared column cast to its raw type, and dt
    set to the day."""
    names = [f.name for f in table.schema()]
    return (
        f"INSERT INTO {RAW_SCHEMA}.{quote(table.name)} ({', '.join(map(quote, [*names, PARTITION_COLUMN]))})\n"
        f"SELECT {_casts(table)}, DATE '{day.isoformat()}'\n"
        f"FROM read_parquet({_sql_list(files)}, union_by_name = true, hive_partitioning = false)"
    )


def view_sql(table: RawTable, partitions: list[tuple[date, Path]]) -> str:
    """The raw view of attach mode: the Parquet files of every loaded (day, folder), cast like a
    copy, dt from the folder's name; no partition: the same columns and no row."""
    name = f"{RAW_SCHEMA}.{quote(table.name)}"
    if not partitions:
        nulls = ", ".join(f"CAST(NULL AS {duckdb_type(f.type)}) AS {quote(f.name)}" for f in table.schema())
        return f"CREATE OR REPLACE VIEW {name} AS\nSELECT {nulls}, CAST(NULL AS DATE) AS {PARTITION_COLUMN} WHERE false"
    globs = [folder / "*.parquet" for _, folder in partitions]
    return (
        f"CREATE OR REPLACE VIEW {name} AS\n"
        f"SELECT {_casts(table)}, CAST({PARTITION_COLUMN} AS DATE) AS {PARTITION_COLUMN}\n"
        f"FROM read_parquet({_sql_list(globs)}, union_by_name = true, hive_partitioning = true)"
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


PARTITIONS = f"{RAW_SCHEMA}._partitions"
_VIEWS = "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'VIEW'"
Mode = Literal["attach", "copy"]


def load_duckdb(
    db_file: Path, lake_root: Path, day: date, mode: Mode = "attach", group: str = "shop"
) -> dict[str, Any]:
    """Replace `day` in every raw table of `group`, in one transaction (the other raw tables are
    created empty if they do not exist yet, and otherwise left as they are)."""
    tables = table_group(group)
    folders = {t.name: lake_root.joinpath(*t.lake_parts, f"{PARTITION_COLUMN}={day.isoformat()}") for t in tables}
    missing = [f"{'/'.join(t.lake_parts)}" for t in tables if not folders[t.name].is_dir()]
    if missing:
        raise WarehouseError(
            f"the lake at {lake_root} has no {PARTITION_COLUMN}={day.isoformat()} partition of {', '.join(missing)}; "
            + PRODUCERS[group].format(day=day)
        )
    import duckdb

    con = connect(db_file)
    rows: dict[str, int] = {}
    current = ""
    in_transaction = False
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        _check_mode(con, mode, db_file)
        if mode == "copy":
            for table in RAW_TABLES:
                con.execute(create_table_sql(table))
        else:
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {PARTITIONS} (table_name VARCHAR NOT NULL, {PARTITION_COLUMN} DATE "
                f"NOT NULL, folder VARCHAR NOT NULL, PRIMARY KEY (table_name, {PARTITION_COLUMN}))"
            )
            existing = {r[0] for r in con.execute(_VIEWS, [RAW_SCHEMA]).fetchall()}
            for table in RAW_TABLES:
                if table.name not in existing:
                    con.execute(view_sql(table, []))
        con.execute("BEGIN TRANSACTION")
        in_transaction = True
        for table in tables:
            current = table.name
            files = parquet_files(folders[table.name])
            if files:
                absent = _missing_columns(con, table, files)
                if absent:
                    raise WarehouseError(
                        f"{'/'.join(table.lake_parts)}/{PARTITION_COLUMN}={day} lacks the column(s) "
                        f"{', '.join(absent)} of raw.{table.name}; rebuild it with the current lake jobs"
                    )
            load = _copy if mode == "copy" else _attach
            rows[table.name] = load(con, table, day, folders[table.name], files)
        con.execute("COMMIT")
        in_transaction = False
    except duckdb.Error as error:
        where = f"raw.{current}" if current else "the raw schema"
        raise WarehouseError(f"loading {where} for {day} failed: {str(error).splitlines()[0]}") from None
    finally:
        if in_transaction:
            con.execute("ROLLBACK")
        con.close()
    return {
        "date": day.isoformat(),
        "target": "duckdb",
        "database": str(db_file),
        "mode": mode,
        "group": group,
        "rows": rows,
    }


def ensure_raw_schema(db_file: Path, mode: Mode = "attach") -> list[str]:
    """Create every raw table that does not exist yet, empty (a view without partitions, or an
    empty table), so dbt can build on a warehouse some group was never loaded into; returns the
    tables created."""
    con = connect(db_file)
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        existing = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [RAW_SCHEMA]
            ).fetchall()
        }
        created = [t.name for t in RAW_TABLES if t.name not in existing]
        for table in RAW_TABLES:
            if table.name in created:
                con.execute(create_table_sql(table) if mode == "copy" else view_sql(table, []))
    finally:
        con.close()
    return created


def _copy(con: Any, table: RawTable, day: date, folder: Path, files: list[Path]) -> int:
    name = f"{RAW_SCHEMA}.{quote(table.name)}"
    con.execute(f"DELETE FROM {name} WHERE {PARTITION_COLUMN} = DATE '{day}'")  # noqa: S608 - our names, a date
    if files:
        con.execute(insert_sql(table, files, day))
    (count,) = con.execute(f"SELECT count(*) FROM {name} WHERE {PARTITION_COLUMN} = DATE '{day}'").fetchone()  # noqa: S608
    return int(count)


def _attach(con: Any, table: RawTable, day: date, folder: Path, files: list[Path]) -> int:
    con.execute(f"DELETE FROM {PARTITIONS} WHERE table_name = ? AND {PARTITION_COLUMN} = ?", [table.name, day])  # noqa: S608
    if files:  # a folder without data files (an empty day) is left out: read_parquet needs a file
        con.execute(f"INSERT INTO {PARTITIONS} VALUES (?, ?, ?)", [table.name, day, str(folder)])  # noqa: S608
    listed = f"SELECT {PARTITION_COLUMN}, folder FROM {PARTITIONS} WHERE table_name = ? ORDER BY 1"  # noqa: S608
    attached = con.execute(listed, [table.name]).fetchall()
    con.execute(view_sql(table, [(dt, Path(folder)) for dt, folder in attached]))
    if not files:
        return 0
    (count,) = con.execute(f"SELECT count(*) FROM read_parquet({_sql_list(files)})").fetchone()  # noqa: S608
    return int(count)


def _check_mode(con: Any, mode: Mode, db_file: Path) -> None:
    """A warehouse file keeps the mode it was first loaded with: its raw tables are views or tables."""
    kinds = dict(
        con.execute(
            "SELECT table_type, count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name IN (SELECT unnest(?)) GROUP BY 1",
            [RAW_SCHEMA, [t.name for t in RAW_TABLES]],
        ).fetchall()
    )
    other = "BASE TABLE" if mode == "attach" else "VIEW"
    if kinds.get(other):
        held = "copied tables" if mode == "attach" else "views over the lake"
        raise WarehouseError(
            f"the warehouse {db_file} holds its raw schema as {held}, not as WATERSHED_DUCKDB_RAW={mode} loads it: "
            f"set WATERSHED_DUCKDB_RAW={'copy' if mode == 'attach' else 'attach'}, or remove the file and load again"
        )
