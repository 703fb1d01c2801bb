"""The raw schema: which lake tables the warehouse loads, and their columns.

Each raw table mirrors one lake table (``<lake>/<layer>/<name>/dt=YYYY-MM-DD/``) plus a ``dt``
column, the partition it came from; a load replaces exactly one ``dt``. Columns are Arrow types,
turned into DuckDB and Snowflake types by :func:`duckdb_type` and :func:`snowflake_type`, so the
two warehouses have the same raw tables.

* ``events`` (silver): the contract's event columns, derived from ``watershed.contract``, plus
  what sessionization adds (spark_jobs/batch/jobs/sessionize.py ``SILVER_EVENT_COLUMNS``).
* ``sessions`` (silver) and ``product_interactions`` (gold): the columns the Spark transforms write
  (spark_jobs/batch/transforms/sessions.py and gold.py). ``tests/warehouse`` checks these lists against
  the files the real jobs write, so a column added there fails a test here instead of being lost.

* ``ad_platform_daily`` (silver): the contract's ad-platform rows the extractors write
  (extractors/lake.py), every platform and account of a day in one partition.

The tables come in load groups (:data:`TABLE_GROUPS`): ``shop`` (events, sessions, product
interactions: what ``ecommerce_daily`` loads after its lake jobs) and ``ads`` (what
``ad_campaign_daily`` loads after extraction). A load replaces one day of one group; every raw
table exists from the first load on (empty until its group is loaded), so dbt can build any model.

The funnel, the daily user metrics and daily revenue are not loaded: the dbt marts compute them
from the events and sessions (docs/warehouse.md), so the warehouse holds one copy of each.

pyarrow is imported inside the functions: the CLI imports this module without paying for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

PARTITION_COLUMN = "dt"


@dataclass(frozen=True)
class RawTable:
    name: str  # the table in the raw schema
    layer: str  # silver or gold
    lake_name: str  # the folder under <lake>/<layer>/

    @property
    def lake_parts(self) -> tuple[str, str]:
        return self.layer, self.lake_name

    def schema(self) -> pa.Schema:
        """The table's columns as loaded (without ``dt``)."""
        return _SCHEMAS[self.name]()


def _silver_events() -> pa.Schema:
    import pyarrow as pa

    from watershed.contract import arrow_schema

    ts = pa.timestamp("us")
    extras = [
        ("is_bot", pa.bool_()),
        ("user_key", pa.string()),
        ("session_id", pa.string()),
        ("session_start", ts),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", ts),
    ]
    return pa.schema([*arrow_schema("events"), *(pa.field(n, t) for n, t in extras)])


def _silver_sessions() -> pa.Schema:
    import pyarrow as pa

    ts, money, long = pa.timestamp("us"), pa.decimal128(18, 2), pa.int64()
    return pa.schema(
        [
            ("user_key", pa.string()),
            ("user_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("session_id", pa.string()),
            ("session_start", ts),
            ("session_end", ts),
            ("duration_seconds", pa.float64()),
            ("event_count", long),
            ("unique_pages", pa.int32()),
            ("page_views", long),
            ("product_views", long),
            ("add_to_carts", long),
            ("begin_checkouts", long),
            ("purchases", long),
            ("revenue", money),
            ("entry_page", pa.string()),
            ("exit_page", pa.string()),
            ("device", pa.string()),
            ("is_bounce", pa.bool_()),
            ("is_bot", pa.bool_()),
        ]
    )


def _gold_product_interactions() -> pa.Schema:
    import pyarrow as pa

    long = pa.int64()
    return pa.schema(
        [
            ("product_id", pa.string()),
            ("views", long),
            ("add_to_carts", long),
            ("purchases", long),
            ("units_purchased", long),
            ("revenue", pa.decimal128(18, 2)),
            ("view_to_cart_rate", pa.float64()),
            ("cart_to_purchase_rate", pa.float64()),
        ]
    )


def _silver_ad_platform_daily() -> pa.Schema:
    from watershed.contract import arrow_schema

    return arrow_schema("ad_platform_daily")


_SCHEMAS = {
    "events": _silver_events,
    "sessions": _silver_sessions,
    "product_interactions": _gold_product_interactions,
    "ad_platform_daily": _silver_ad_platform_daily,
}

SHOP_TABLES: tuple[RawTable, ...] = (
    RawTable("events", "silver", "events"),
    RawTable("sessions", "silver", "sessions"),
    RawTable("product_interactions", "gold", "product_interactions"),
)
AD_TABLES: tuple[RawTable, ...] = (RawTable("ad_platform_daily", "silver", "ad_platform"),)
TABLE_GROUPS: dict[str, tuple[RawTable, ...]] = {"shop": SHOP_TABLES, "ads": AD_TABLES}
RAW_TABLES: tuple[RawTable, ...] = SHOP_TABLES + AD_TABLES  # every raw table

# what to run when a group's partition of a day is missing
PRODUCERS = {
    "shop": "run `watershed sessionize --date {day}` and `watershed gold --date {day}` first",
    "ads": "run `watershed ads extract --date {day}` first (its lookback window writes every day it covers)",
}


def table_group(name: str) -> tuple[RawTable, ...]:
    try:
        return TABLE_GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown table group {name!r}; expected one of {', '.join(TABLE_GROUPS)}") from None


@cache
def raw_table(name: str) -> RawTable:
    for table in RAW_TABLES:
        if table.name == name:
            return table
    raise KeyError(name)


def duckdb_type(arrow_type: Any) -> str:
    """The DuckDB type of a raw column. Timestamps are plain TIMESTAMP holding UTC (the loader
    converts with TimeZone=UTC), nested types stay nested."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{f.name} {duckdb_type(f.type)}" for f in t) + ")"
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    return _scalar(t, {"timestamp": "TIMESTAMP", "float64": "DOUBLE", "decimal": "DECIMAL({p},{s})"})


def snowflake_type(arrow_type: Any) -> str:
    """The Snowflake type of a raw column: TIMESTAMP_NTZ in UTC, nested types as VARIANT."""
    import pyarrow as pa

    if pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type):
        return "VARIANT"
    return _scalar(arrow_type, {"timestamp": "TIMESTAMP_NTZ", "float64": "FLOAT", "decimal": "NUMBER({p},{s})"})


def _scalar(t: Any, special: dict[str, str]) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return special["timestamp"]
    if pa.types.is_decimal(t):
        return special["decimal"].format(p=t.precision, s=t.scale)
    if pa.types.is_float64(t):
        return special["float64"]
    simple = {
        pa.string(): "VARCHAR",
        pa.large_string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
    }
    if t in simple:
        return simple[t]
    raise TypeError(f"no warehouse type for Arrow type {t}")
