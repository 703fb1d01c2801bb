"""Running the dbt project (``dbt/``) against the configured warehouse.

dbt reads every connection detail from environment variables (``dbt/profiles.yml``), never from
files: :func:`dbt_env` fills them from the settings (``WATERSHED_*``) or, with an Airflow
connection id, from that connection, for the dbt process only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from warehouse.loader import Target, WarehouseError
from watershed.paths import dbt_project_dir
from watershed.settings import Settings

DBT_PROJECT_DIR = dbt_project_dir()


def snowflake_env_from_airflow(conn_id: str) -> dict[str, str]:
    """WATERSHED_SNOWFLAKE_* variables from an Airflow Snowflake connection (login, password,
    extras account / warehouse / database / role)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = {k.removeprefix("extra__snowflake__"): v for k, v in (conn.extra_dejson or {}).items()}
    env = {
        "WATERSHED_SNOWFLAKE_ACCOUNT": extra.get("account"),
        "WATERSHED_SNOWFLAKE_USER": conn.login,
        "WATERSHED_SNOWFLAKE_PASSWORD": conn.password,
        "WATERSHED_SNOWFLAKE_WAREHOUSE": extra.get("warehouse"),
        "WATERSHED_SNOWFLAKE_DATABASE": extra.get("database") or conn.schema or None,
        "WATERSHED_SNOWFLAKE_ROLE": extra.get("role"),
    }
    return {k: str(v) for k, v in env.items() if v}


def dbt_env(settings: Settings, target: Target | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a dbt process: the current one plus the warehouse's variables."""
    target = target or settings.warehouse
    env = dict(os.environ)
    env["WATERSHED_DBT_TARGET"] = target
    # dbt writes its artifacts and logs under the state dir, never into the (installed) project
    env.setdefault("DBT_TARGET_PATH", str(settings.state_dir / "dbt" / "target"))
    env.setdefault("DBT_LOG_PATH", str(settings.state_dir / "dbt" / "logs"))
    if target == "duckdb":
        env["WATERSHED_DUCKDB_PATH"] = str(settings.duckdb_file)
    else:
        values = {
            "WATERSHED_SNOWFLAKE_ACCOUNT": settings.snowflake_account,
            "WATERSHED_SNOWFLAKE_USER": settings.snowflake_user,
            "WATERSHED_SNOWFLAKE_PASSWORD": (
                settings.snowflake_password.get_secret_value() if settings.snowflake_password else None
            ),
            "WATERSHED_SNOWFLAKE_ROLE": settings.snowflake_role,
            "WATERSHED_SNOWFLAKE_WAREHOUSE": settings.snowflake_warehouse,
            "WATERSHED_SNOWFLAKE_DATABASE": settings.snowflake_database,
        }
        env.update({k: v for k, v in values.items() if v})
    env.update(extra or {})
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def build_args(
    day: date | None = None,
    *,
    lookback_days: int | None = None,
    select: str | None = None,
    full_refresh: bool = False,
) -> list[str]:
    """`dbt build` arguments: with `day`, the incremental marts rebuild that day and the
    `lookback_days` before it (dbt var run_date); without, every day loaded."""
    args = ["build"]
    variables = {}
    if day is not None:
        variables["run_date"] = day.isoformat()
    if lookback_days is not None:
        variables["lookback_days"] = str(lookback_days)
    if variables:
        args += ["--vars", "{" + ", ".join(f'"{k}": "{v}"' for k, v in variables.items()) + "}"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    return args


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    target: Target | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `dbt <args>` on the project; raise WarehouseError when dbt fails."""
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        target or settings.warehouse,
    ]
    result = subprocess.run(
        command,
        env=dbt_env(settings, target, env),
        text=True,
        capture_output=capture,
        check=False,
    )
    if result.returncode != 0:
        tail = ""
        if capture:
            lines = [line for line in (result.stdout or "").splitlines() if line.strip()]
            tail = ": " + " | ".join(lines[-5:])
        raise WarehouseError(f"dbt {args[0] if args else ''} failed (exit code {result.returncode}){tail}")
    return result
