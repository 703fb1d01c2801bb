"""Engine schemas of the flat tables: Arrow/Parquet and Spark, both built from
:mod:`watershed.contract.columns`.

pyarrow and pyspark are imported inside the functions: the collector and DAG files import the
contract without paying for either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from watershed.contract.columns import Column, ad_platform_columns, event_columns

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

Table = Literal["events", "ad_platform_daily"]

# Timestamps are UTC instants with microseconds: Parquet TIMESTAMP(isAdjustedToUTC, MICROS),
# which Spark reads as TimestampType and DuckDB as TIMESTAMP WITH TIME ZONE.
TIMESTAMP_UNIT = "us"


def columns(table: Table) -> tuple[Column, ...]:
    if table == "events":
        return event_columns()
    if table == "ad_platform_daily":
        return ad_platform_columns()
    raise ValueError(f"unknown table {table!r}; expected 'events' or 'ad_platform_daily'")


def arrow_schema(table: Table) -> pa.Schema:
    """The Arrow schema (all fields nullable) that Parquet files of `table` are written with."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, _arrow_type(c), nullable=True) for c in columns(table)])


def _arrow_type(column: Column) -> Any:
    import pyarrow as pa

    scalar = {
        "string": pa.string(),
        "json": pa.string(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "timestamp": pa.timestamp(TIMESTAMP_UNIT, tz="UTC"),
        "date": pa.date32(),
    }
    if column.kind == "decimal":
        base = pa.decimal128(column.precision, column.scale)
    elif column.kind == "struct":
        base = pa.struct([pa.field(f.name, _arrow_type(f), nullable=True) for f in column.fields])
    else:
        base = scalar[column.kind]
    return pa.list_(pa.field("element", base, nullable=True)) if column.repeated else base


def spark_schema(table: Table) -> StructType:
    """The Spark StructType of `table` (all fields nullable, as Spark reads Parquet)."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(c.name, _spark_type(c), nullable=True) for c in columns(table)])


def _spark_type(column: Column) -> DataType:
    from pyspark.sql import types as T

    scalar = {
        "string": T.StringType(),
        "json": T.StringType(),
        "int64": T.LongType(),
        "double": T.DoubleType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
    }
    base: DataType
    if column.kind == "decimal":
        base = T.DecimalType(column.precision or 0, column.scale or 0)
    elif column.kind == "struct":
        base = T.StructType([T.StructField(f.name, _spark_type(f), nullable=True) for f in column.fields])
    else:
        base = scalar[column.kind]
    return T.ArrayType(base, containsNull=True) if column.repeated else base
