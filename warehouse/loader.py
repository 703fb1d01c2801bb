"""`watershed warehouse load --date D`: one day of the lake into the warehouse's raw schema.

Both backends replace the day: in one transaction, delete the rows of ``dt = D`` from every raw
table and insert that day's partition of the lake, so loading a day twice leaves the same rows.

* DuckDB (local): reads ``<lake>/<layer>/<table>/dt=D/*.parquet`` with ``read_parquet`` into the
  file ``settings.duckdb_file``. Local lakes only: DuckDB would need its httpfs extension for
  S3, which cannot be downloaded here.
* Snowflake (production): an external stage on the S3 lake and ``COPY INTO`` with ``FORCE``
  (Snowflake skips files it loaded before, which would turn a reload into an empty day),
  run through snowflake-connector; :func:`snowflake_statements` shows them without connecting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from warehouse.tables import PARTITION_COLUMN, RAW_TABLES, RawTable
from watershed import lake
from watershed.errors import WatershedError
from watershed.settings import Settings

Target = Literal["duckdb", "snowflake"]
RAW_SCHEMA = "raw"


class WarehouseError(WatershedError):
    """A load cannot run: a partition is missing, the lake is out of reach, the warehouse is busy."""


def partition_uri(settings: Settings, table: RawTable, day: date) -> str:
    return lake.path(settings, *table.lake_parts, f"{PARTITION_COLUMN}={day.isoformat()}")


def local_lake_root(settings: Settings) -> Path:
    """The lake as a local folder (the DuckDB backend reads files directly)."""
    uri = settings.lake
    if settings.lake_is_s3:
        raise WarehouseError(
            f"the DuckDB warehouse reads a local lake, but the lake is {uri}: DuckDB needs its httpfs "
            "extension for S3, which is not installed; use a local lake (unset WATERSHED_LAKE_URI) "
            "or the Snowflake warehouse (WATERSHED_ENV=prod)"
        )
    return Path(unquote(urlparse(uri).path))


def parquet_files(folder: Path) -> list[Path]:
    """Data files of a partition folder (Spark's _SUCCESS and .crc files left out)."""
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(("_", ".")))


def load_date(
    settings: Settings,
    day: date,
    *,
    target: Target | None = None,
    connect: Callable[[], Any] | None = None,
    storage_integration: str | None = None,
    check_lake: bool = True,
    group: str = "shop",
) -> dict[str, Any]:
    """Replace `day` of the raw tables of `group` (warehouse.tables.TABLE_GROUPS: ``shop`` or
    ``ads``) in the configured warehouse (or `target`); return what was loaded. `connect`
    (Snowflake only) returns a DB-API connection; by default one is opened from the
    WATERSHED_SNOWFLAKE_* settings. `check_lake` (Snowflake) first checks that the S3 lake
    has the day's partitions."""
    target = target or settings.warehouse
    if target == "duckdb":
        from warehouse.duckdb_backend import load_duckdb

        return load_duckdb(settings.duckdb_file, local_lake_root(settings), day, settings.duckdb_raw, group)
    if target == "snowflake":
        from warehouse.snowflake_backend import load_snowflake

        return load_snowflake(
            settings, day, connect=connect, storage_integration=storage_integration, check_lake=check_lake, group=group
        )
    raise WarehouseError(f"unknown warehouse target {target!r}; expected duckdb or snowflake")


__all__ = ["RAW_SCHEMA", "RAW_TABLES", "Target", "WarehouseError", "load_date", "partition_uri"]
