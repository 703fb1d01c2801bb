"""The warehouse: DuckDB locally, Snowflake in production, loaded from the lake by day and
modelled by the dbt project in ``dbt/`` (docs/warehouse.md)."""

from warehouse.loader import RAW_SCHEMA, WarehouseError, load_date
from warehouse.tables import RAW_TABLES, RawTable

__all__ = ["RAW_SCHEMA", "RAW_TABLES", "RawTable", "WarehouseError", "load_date"]
