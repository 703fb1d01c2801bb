"""The production warehouse: Snowflake, loaded from the S3 lake through an external stage.

:func:`snowflake_statements` returns the SQL of one load; :func:`load_snowflake` runs it through
snowflake-connector (or any DB-API connection given). The statements:

1. create, if absent, the raw schema, a Parquet file format (logical types on, so decimals and
   timestamps arrive typed), the external stage on the lake (``s3a://b/p`` -> ``s3://b/p/``,
   through a storage integration: no keys in SQL) and the raw tables;
2. in one transaction, per table: ``DELETE`` the day, then ``COPY INTO`` the table from the
   day's folder, casting each Parquet field to its column type and setting ``dt``. ``FORCE =
   TRUE`` because Snowflake remembers loaded files for 64 days and would otherwise skip them on
   a reload, leaving the day empty after the DELETE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from warehouse.loader import RAW_SCHEMA, WarehouseError
from warehouse.tables import PARTITION_COLUMN, PRODUCERS, RAW_TABLES, RawTable, snowflake_type, table_group
from watershed import lake
from watershed.settings import Settings

FILE_FORMAT = f"{RAW_SCHEMA}.watershed_parquet"
STAGE = f"{RAW_SCHEMA}.watershed_lake"
DEFAULT_STORAGE_INTEGRATION = "watershed_lake"


def stage_url(settings: Settings) -> str:
    """The lake as a Snowflake stage URL (``s3://bucket/prefix/``)."""
    if not settings.lake_is_s3:
        raise WarehouseError(
            f"Snowflake loads from an S3 lake, but the lake is {settings.lake}; set WATERSHED_LAKE_URI=s3a://bucket/prefix"
        )
    return "s3://" + settings.lake.removeprefix("s3a://").rstrip("/") + "/"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_sql(table: RawTable) -> str:
    columns = [f"{f.name} {snowflake_type(f.type)}" for f in table.schema()]
    columns.append(f"{PARTITION_COLUMN} DATE NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table.name} (\n    " + ",\n    ".join(columns) + "\n)"


def copy_sql(table: RawTable, day: date) -> str:
    """COPY of one day's folder: ``$1:<field>::<type>`` per column (VARIANT kept as is)."""
    schema = table.schema()
    names = [f.name for f in schema] + [PARTITION_COLUMN]
    values = []
    for field in schema:
        kind = snowflake_type(field.type)
        values.append(f"$1:{field.name}" if kind == "VARIANT" else f"$1:{field.name}::{kind}")
    values.append(f"TO_DATE({_literal(day.isoformat())})")
    folder = f"{'/'.join(table.lake_parts)}/{PARTITION_COLUMN}={day.isoformat()}/"
    # names from the raw table specs, a date: no user text
    return (
        f"COPY INTO {RAW_SCHEMA}.{table.name} ({', '.join(names)})\n"  # noqa: S608
        f"FROM (SELECT {', '.join(values)} FROM @{STAGE}/{folder})\n"
        f"FILE_FORMAT = (FORMAT_NAME = {_literal(FILE_FORMAT)})\n"
        "PATTERN = '.*[.]parquet'\nFORCE = TRUE\nON_ERROR = ABORT_STATEMENT"
    )


def setup_statements(settings: Settings, storage_integration: str | None = None) -> list[str]:
    integration = storage_integration or DEFAULT_STORAGE_INTEGRATION
    return [
        f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
        f"CREATE FILE FORMAT IF NOT EXISTS {FILE_FORMAT} TYPE = PARQUET USE_LOGICAL_TYPE = TRUE",
        f"CREATE STAGE IF NOT EXISTS {STAGE} URL = {_literal(stage_url(settings))} "
        f"STORAGE_INTEGRATION = {integration} FILE_FORMAT = {FILE_FORMAT}",
        *(create_table_sql(t) for t in RAW_TABLES),
    ]


def load_statements(day: date, group: str = "shop") -> list[str]:
    """The transaction that replaces `day` in every raw table of `group`."""
    statements = ["BEGIN TRANSACTION"]
    for table in table_group(group):
        statements.append(f"DELETE FROM {RAW_SCHEMA}.{table.name} WHERE {PARTITION_COLUMN} = {_date(day)}")  # noqa: S608
        statements.append(copy_sql(table, day))
    statements.append("COMMIT")
    return statements


def _date(day: date) -> str:
    return f"TO_DATE({_literal(day.isoformat())})"


def snowflake_statements(
    settings: Settings, day: date, storage_integration: str | None = None, group: str = "shop"
) -> list[str]:
    return [*setup_statements(settings, storage_integration), *load_statements(day, group)]


def connect_from_settings(settings: Settings, **options: Any) -> Any:
    """A connection with the settings' credentials; `options` go to the connector (paramstyle, ...)."""
    import snowflake.connector

    if not (settings.snowflake_account and settings.snowflake_user and settings.snowflake_password):
        raise WarehouseError(
            "the Snowflake warehouse needs WATERSHED_SNOWFLAKE_ACCOUNT, WATERSHED_SNOWFLAKE_USER and "
            "WATERSHED_SNOWFLAKE_PASSWORD (or --snowflake-conn-id with an Airflow connection)"
        )
    return snowflake.connector.connect(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        password=settings.snowflake_password.get_secret_value(),
        role=settings.snowflake_role,
        warehouse=settings.snowflake_warehouse,
        database=settings.snowflake_database,
        autocommit=True,
        login_timeout=60,
        **endpoint(settings),
        **options,
    )


def endpoint(settings: Settings) -> dict[str, Any]:
    """Host, port and protocol for the connector when the settings name them (else it derives
    ``<account>.snowflakecomputing.com:443`` over https)."""
    given = {"host": settings.snowflake_host, "port": settings.snowflake_port}
    return {**{k: v for k, v in given.items() if v is not None}, "protocol": settings.snowflake_protocol}


def connect_from_airflow(conn_id: str) -> Any:
    """A connection from an Airflow Snowflake connection (credentials stay in Airflow)."""
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    return SnowflakeHook(snowflake_conn_id=conn_id).get_conn()


def _rows_loaded(cursor: Any) -> int:
    """Sum of rows_loaded in COPY's per-file result (0 files gives a one-column status row)."""
    names = [d[0].lower() for d in (cursor.description or [])]
    if "rows_loaded" not in names:
        return 0
    i = names.index("rows_loaded")
    return sum(int(row[i] or 0) for row in cursor.fetchall())


def run_statements(connection: Any, statements: Sequence[str]) -> dict[str, int]:
    """Run the statements in order; roll back the open transaction on any error."""
    rows: dict[str, int] = {}
    cursor = connection.cursor()
    in_transaction = False
    try:
        for statement in statements:
            cursor.execute(statement)
            head = statement.split(None, 2)
            if head[0] == "BEGIN":
                in_transaction = True
            elif head[0] == "COMMIT":
                in_transaction = False
            elif head[:2] == ["COPY", "INTO"]:
                table = statement.split()[2].split(".")[-1]
                rows[table] = _rows_loaded(cursor)
    except Exception as error:
        if in_transaction:
            cursor.execute("ROLLBACK")
        raise WarehouseError(f"Snowflake load failed: {str(error).splitlines()[0]}") from error
    finally:
        cursor.close()
    return rows


def require_partitions(settings: Settings, day: date, group: str = "shop") -> None:
    """Refuse to load a day the lake does not have (COPY would load nothing, silently)."""
    client = lake.s3_client(settings)
    bucket, _, prefix = settings.lake.removeprefix("s3a://").partition("/")
    missing = []
    for table in table_group(group):
        key = "/".join(p for p in (prefix.strip("/"), *table.lake_parts, f"{PARTITION_COLUMN}={day.isoformat()}/") if p)
        if not client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"):
            missing.append("/".join(table.lake_parts))
    if missing:
        raise WarehouseError(
            f"the lake at {settings.lake} has no {PARTITION_COLUMN}={day.isoformat()} partition of "
            f"{', '.join(missing)}; " + PRODUCERS[group].format(day=day)
        )


def load_snowflake(
    settings: Settings,
    day: date,
    *,
    connect: Callable[[], Any] | None = None,
    storage_integration: str | None = None,
    check_lake: bool = True,
    group: str = "shop",
) -> dict[str, Any]:
    statements = snowflake_statements(settings, day, storage_integration, group)
    if check_lake:
        require_partitions(settings, day, group)
    connection = (connect or (lambda: connect_from_settings(settings)))()
    try:
        rows = run_statements(connection, statements)
    finally:
        connection.close()
    return {
        "date": day.isoformat(),
        "target": "snowflake",
        "database": settings.snowflake_database,
        "group": group,
        "rows": rows,
    }
