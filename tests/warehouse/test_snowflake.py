"""The Snowflake side, offline: the load's statements, how they run, the credentials dbt gets, and
the dbt project parsed and compiled for Snowflake, every compiled statement parsed by sqlglot's
Snowflake dialect."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from warehouse import WarehouseError
from warehouse.dbt import DBT_PROJECT_DIR, dbt_env, snowflake_env_from_airflow
from warehouse.snowflake_backend import copy_sql, load_snowflake, run_statements, snowflake_statements
from warehouse.tables import AD_TABLES, RAW_TABLES, SHOP_TABLES, raw_table
from watershed.cli import main
from watershed.settings import Settings

DAY = date(2025, 1, 6)
OFFLINE_COMPILE = Path(__file__).with_name("offline_compile.py")


@pytest.fixture
def snowflake_on_s3() -> Settings:
    """Settings with a Snowflake account and an S3 lake: all the statements are built from (the
    environment stays local: nothing here connects, and prod's other requirements do not apply)."""
    return Settings(
        env="local",
        lake_uri="s3a://acme-lake/watershed",
        snowflake_account="acme-eu1",
        snowflake_user="loader",
        snowflake_password="not-a-real-one",
    )


def test_a_load_is_setup_then_one_transaction_of_delete_and_copy_per_table(snowflake_on_s3):
    statements = snowflake_statements(snowflake_on_s3, DAY, storage_integration="lake_int")

    setup = statements[: 3 + len(RAW_TABLES)]
    assert setup[:3] == [
        "CREATE SCHEMA IF NOT EXISTS raw",
        "CREATE FILE FORMAT IF NOT EXISTS raw.watershed_parquet TYPE = PARQUET USE_LOGICAL_TYPE = TRUE",
        "CREATE STAGE IF NOT EXISTS raw.watershed_lake URL = 's3://acme-lake/watershed/' STORAGE_INTEGRATION = "
        "lake_int FILE_FORMAT = raw.watershed_parquet",
    ]
    assert [s.split("(")[0].strip() for s in setup[3:]] == [
        f"CREATE TABLE IF NOT EXISTS raw.{t.name}" for t in RAW_TABLES
    ]
    load = statements[3 + len(RAW_TABLES) :]
    assert load[0] == "BEGIN TRANSACTION" and load[-1] == "COMMIT"
    expected = []
    for table in SHOP_TABLES:  # the shop's group; every raw table is created
        expected += [f"DELETE FROM raw.{table.name} WHERE dt = TO_DATE('2025-01-06')", f"COPY INTO raw.{table.name}"]
    assert [s if s.startswith("DELETE") else " ".join(s.split()[:3]) for s in load[1:-1]] == expected


def test_copy_casts_each_parquet_field_and_forces_a_reload():
    sql = copy_sql(raw_table("product_interactions"), DAY)
    assert sql == (
        "COPY INTO raw.product_interactions (product_id, views, add_to_carts, purchases, units_purchased, revenue, "
        "view_to_cart_rate, cart_to_purchase_rate, dt)\n"
        "FROM (SELECT $1:product_id::VARCHAR, $1:views::BIGINT, $1:add_to_carts::BIGINT, $1:purchases::BIGINT, "
        "$1:units_purchased::BIGINT, $1:revenue::NUMBER(18,2), $1:view_to_cart_rate::FLOAT, "
        "$1:cart_to_purchase_rate::FLOAT, "
        "TO_DATE('2025-01-06') FROM @raw.watershed_lake/gold/product_interactions/dt=2025-01-06/)\n"
        "FILE_FORMAT = (FORMAT_NAME = 'raw.watershed_parquet')\n"
        "PATTERN = '.*[.]parquet'\nFORCE = TRUE\nON_ERROR = ABORT_STATEMENT"
    )
    events = copy_sql(raw_table("events"), DAY)
    assert "$1:geo, " in events and "$1:items, " in events  # nested fields stay VARIANT
    assert "$1:occurred_at::TIMESTAMP_NTZ" in events


def test_the_statements_parse_as_snowflake_sql(snowflake_on_s3):
    sqlglot = pytest.importorskip("sqlglot")
    for statement in snowflake_statements(snowflake_on_s3, DAY):
        if statement.startswith(("CREATE FILE FORMAT", "CREATE STAGE")):
            continue  # Snowflake object DDL that sqlglot does not model
        parsed = sqlglot.parse(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
        assert len([p for p in parsed if p is not None]) == 1, statement


def test_a_file_lake_cannot_be_loaded_into_snowflake(snowflake_on_s3):
    with pytest.raises(WarehouseError, match="Snowflake loads from an S3 lake, but the lake is file://"):
        snowflake_statements(snowflake_on_s3.model_copy(update={"lake_uri": "/tmp/lake"}), DAY)


class FakeCursor:
    def __init__(self, log: list[str], fail_on: str | None) -> None:
        self.log, self.fail_on, self.description, self._rows = log, fail_on, None, []

    def execute(self, statement: str) -> None:
        self.log.append(statement)
        if self.fail_on and statement.startswith(self.fail_on):
            raise RuntimeError("SQL compilation error:\nObject does not exist")
        if statement.startswith("COPY INTO"):
            self.description = [("file",), ("status",), ("rows_parsed",), ("rows_loaded",)]
            self._rows = [("f1.parquet", "LOADED", 3, 3), ("f2.parquet", "LOADED", 2, 2)]
        else:
            self.description, self._rows = None, []

    def fetchall(self) -> list[tuple]:
        return self._rows

    def close(self) -> None:
        self.log.append("<cursor closed>")


class FakeConnection:
    def __init__(self, fail_on: str | None = None) -> None:
        self.log: list[str] = []
        self.fail_on = fail_on
        self.closed = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.log, self.fail_on)

    def close(self) -> None:
        self.closed = True


def test_the_load_runs_every_statement_in_order_and_counts_rows(snowflake_on_s3):
    connection = FakeConnection()
    report = load_snowflake(snowflake_on_s3, DAY, connect=lambda: connection, check_lake=False)

    assert connection.log == [*snowflake_statements(snowflake_on_s3, DAY), "<cursor closed>"]
    assert report == {
        "date": "2025-01-06",
        "target": "snowflake",
        "database": "WATERSHED",
        "group": "shop",
        "rows": {t.name: 5 for t in SHOP_TABLES},
    }
    assert connection.closed


def test_the_ads_group_loads_the_silver_ad_rows_only(snowflake_on_s3):
    statements = snowflake_statements(snowflake_on_s3, DAY, group="ads")
    load = statements[3 + len(RAW_TABLES) :]
    assert [t.name for t in AD_TABLES] == ["ad_platform_daily"]
    assert [" ".join(s.split()[:3]) for s in load] == [
        "BEGIN TRANSACTION",
        "DELETE FROM raw.ad_platform_daily",
        "COPY INTO raw.ad_platform_daily",
        "COMMIT",
    ]
    assert "FROM @raw.watershed_lake/silver/ad_platform/dt=2025-01-06/)" in load[2]
    assert "$1:cost::NUMBER(18,6)" in load[2] and "$1:account_id::VARCHAR" in load[2]


def test_a_failing_copy_rolls_the_day_back(snowflake_on_s3):
    connection = FakeConnection(fail_on="COPY INTO raw.product_interactions")
    with pytest.raises(WarehouseError, match=r"Snowflake load failed: SQL compilation error:$"):
        run_statements(connection, snowflake_statements(snowflake_on_s3, DAY))
    assert connection.log[-3:] == [copy_sql(raw_table("product_interactions"), DAY), "ROLLBACK", "<cursor closed>"]


def test_print_sql_shows_the_statements_without_connecting(snowflake_on_s3, monkeypatch, capsys):
    monkeypatch.setenv("WATERSHED_LAKE_URI", "s3a://acme-lake/watershed")
    assert main(["warehouse", "load", "--date", "2025-01-06", "--target", "snowflake", "--print-sql"]) == 0
    out = capsys.readouterr().out
    assert out.count("COPY INTO raw.") == len(SHOP_TABLES)
    assert out.startswith("CREATE SCHEMA IF NOT EXISTS raw;\n")


def test_dbt_gets_the_snowflake_credentials_from_the_settings(snowflake_on_s3):
    env = dbt_env(snowflake_on_s3, "snowflake", {"EXTRA": "1"})
    assert {k: v for k, v in env.items() if k.startswith("WATERSHED_SNOWFLAKE_") or k in ("EXTRA",)} == {
        "WATERSHED_SNOWFLAKE_ACCOUNT": "acme-eu1",
        "WATERSHED_SNOWFLAKE_USER": "loader",
        "WATERSHED_SNOWFLAKE_PASSWORD": "not-a-real-one",
        "WATERSHED_SNOWFLAKE_ROLE": "TRANSFORMER",
        "WATERSHED_SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
        "WATERSHED_SNOWFLAKE_DATABASE": "WATERSHED",
        "EXTRA": "1",
    }
    assert env["WATERSHED_DBT_TARGET"] == "snowflake"


def test_dbt_gets_the_snowflake_credentials_from_an_airflow_connection(monkeypatch):
    connection = {
        "conn_type": "snowflake",
        "login": "svc_dbt",
        "password": "from-airflow",
        "extra": {"account": "acme-eu1", "warehouse": "WH_DBT", "database": "ANALYTICS", "role": "DBT"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_TEST", json.dumps(connection))
    assert snowflake_env_from_airflow("warehouse_test") == {
        "WATERSHED_SNOWFLAKE_ACCOUNT": "acme-eu1",
        "WATERSHED_SNOWFLAKE_USER": "svc_dbt",
        "WATERSHED_SNOWFLAKE_PASSWORD": "from-airflow",
        "WATERSHED_SNOWFLAKE_WAREHOUSE": "WH_DBT",
        "WATERSHED_SNOWFLAKE_DATABASE": "ANALYTICS",
        "WATERSHED_SNOWFLAKE_ROLE": "DBT",
    }


# ---- the dbt project for the snowflake target, offline ----------------------------------------

# DuckDB spellings that Snowflake does not have; the cross-database macros must have replaced them.
DUCKDB_ONLY = re.compile(
    r"\b(struct_extract|read_parquet|date_diff|bool_or|list_value|regexp_matches|strftime|epoch_ms)\s*\(|"
    r"\bfilter\s*\(\s*where\b|::\s*timestamptz\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def snowflake_compiled(tmp_path_factory) -> dict[str, Path]:
    """`dbt parse` and `dbt compile` (first build and incremental) for the snowflake target, with
    dummy credentials: nothing connects (offline_compile.py refuses any connection)."""
    root = tmp_path_factory.mktemp("snowflake-dbt")
    env = {
        **dbt_env(Settings(env="local"), "snowflake"),
        "WATERSHED_SNOWFLAKE_ACCOUNT": "offline",
        "WATERSHED_SNOWFLAKE_USER": "offline",
        "WATERSHED_SNOWFLAKE_PASSWORD": "offline",
        "DBT_LOG_PATH": str(root / "logs"),
    }
    common = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target", "snowflake"]
    variables = json.dumps({"run_date": "2025-01-07"})
    target = root / "target"
    out = {}
    for mode in ("full", "incremental"):  # one target folder: the second run reuses the parse
        command = [sys.executable, str(OFFLINE_COMPILE), mode, *common, "--target-path", str(target)]
        result = subprocess.run([*command, "--vars", variables], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out[mode] = (target / "compiled").rename(root / mode) / "watershed"
    return out


def test_dbt_parses_for_the_snowflake_target(snowflake_compiled):
    manifest = json.loads((snowflake_compiled["full"].parents[1] / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "snowflake"
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"fct_user_events", "fct_sessions", "dim_users", "dim_users_daily", "agg_daily_user_metrics",
            "conversion_funnel", "product_performance", "daily_revenue"} <= models  # fmt: skip


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_every_compiled_statement_is_snowflake_sql(snowflake_compiled, mode):
    sqlglot = pytest.importorskip("sqlglot")
    from sqlglot import exp

    files = sorted(snowflake_compiled[mode].rglob("*.sql"))
    assert len(files) > 100  # models, data tests and the strategy's statements
    for path in files:
        text = path.read_text()
        assert not DUCKDB_ONLY.search(text), f"{path.name}: {DUCKDB_ONLY.search(text)}"
        statements = [s for s in sqlglot.parse(text, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE) if s]
        assert statements, path
        unknown = {f.name for s in statements for f in s.find_all(exp.Anonymous)}
        assert not unknown, f"{path.name} calls functions Snowflake does not know: {unknown}"


def test_the_incremental_window_and_strategy_compile_for_snowflake(snowflake_compiled):
    full = (snowflake_compiled["full"] / "models" / "marts" / "fct_sessions.sql").read_text()
    incremental = (snowflake_compiled["incremental"] / "models" / "marts" / "fct_sessions.sql").read_text()
    window = "where session_date between cast('2025-01-05' as date) and cast('2025-01-07' as date)"
    assert window not in full and window in incremental

    strategy = (snowflake_compiled["full"] / "analyses" / "replace_window_statements.sql").read_text()
    statements = [" ".join(s.split()) for s in strategy.split(";") if s.strip()]
    assert statements == [
        "begin",
        "delete from WATERSHED.marts.fct_sessions as DBT_INTERNAL_DEST where DBT_INTERNAL_DEST.session_date "
        "between cast('2025-01-05' as date) and cast('2025-01-07' as date)",
        "delete from WATERSHED.marts.fct_sessions as DBT_INTERNAL_DEST using WATERSHED.marts.fct_sessions__dbt_tmp "
        "as DBT_INTERNAL_SOURCE where DBT_INTERNAL_DEST.session_id = DBT_INTERNAL_SOURCE.session_id",
        'insert into WATERSHED.marts.fct_sessions ("SESSION_ID", "SESSION_DATE", "EVENT_COUNT") select '
        '"SESSION_ID", "SESSION_DATE", "EVENT_COUNT" from WATERSHED.marts.fct_sessions__dbt_tmp',
        "commit",
    ]
    dim_users = (snowflake_compiled["full"] / "models" / "marts" / "dim_users_daily.sql").read_text()
    assert "datediff(" in dim_users  # dbt.datediff, Snowflake's spelling
    summary = (snowflake_compiled["full"] / "models" / "ads" / "marts" / "campaign_performance_summary.sql").read_text()
    assert "percentile_cont(0.5) within group (order by cpa) as median_cpa" in summary  # DuckDB: quantile_cont
    staging = (snowflake_compiled["full"] / "models" / "staging" / "stg_watershed__events.sql").read_text()
    assert "geo:country::varchar as country_code" in staging
