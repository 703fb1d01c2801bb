"""Airflow standalone in the local stack."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from watershed.errors import StackError
from watershed.paths import dags_dir
from watershed.stack.postgres import Postgres
from watershed.stack.service import Service


class Airflow(Service):
    """Airflow 3 (`airflow standalone`: api-server, scheduler, dag-processor, triggerer) with this
    repository's dags/, its metadata in the stack's PostgreSQL (database `airflow`) and user
    `admin`."""

    name = "airflow"
    startup_timeout = 240.0
    requires = ("postgres",)

    @property
    def ports(self) -> dict[str, int]:
        return {"api": self.settings.airflow_port, "log-server": self.settings.airflow_log_server_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    @property
    def executable(self) -> Path:
        return Path(sys.executable).parent / "airflow"

    def check_installed(self) -> None:
        if not self.executable.exists():
            raise StackError(f"Airflow is not installed next to {sys.executable}: run `make setup`")

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.settings.airflow_password}))

    def command(self) -> list[str]:
        return [str(self.executable), "standalone"]

    def client_environment(self) -> dict[str, str]:
        return {
            # standalone starts its components as `airflow ...` found on the PATH
            "PATH": f"{self.executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # several processes and the CLI write the metadata at once: PostgreSQL, not SQLite
            # (watershed/stack/postgres.py says why); the async engine derives asyncpg from it
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": Postgres(self.settings).url("airflow"),
        }

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.client_environment(),
            # LocalExecutor starts one worker per slot: 32 by default, far too many for a laptop
            "AIRFLOW__CORE__PARALLELISM": str(max(4, 2 * (os.cpu_count() or 2))),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.settings.airflow_port),
            # task workers report to the execution API; its default assumes port 8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.address}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.settings.airflow_log_server_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            # every task sees the same Watershed settings as the CLI that started Airflow
            "WATERSHED_STATE_DIR": str(self.settings.state_dir),
            # the quality checkpoints push their metrics to the stack's Pushgateway (alert rules key on
            # them); when it is not running a push fails with a logged error, the checkpoint does not
            "WATERSHED_QUALITY_PUSHGATEWAY_URL": os.environ.get("WATERSHED_QUALITY_PUSHGATEWAY_URL")
            or f"http://127.0.0.1:{self.settings.pushgateway_port}",
            # and so do the batch jobs (duration, rows in and out, quarantined, per job and day)
            "WATERSHED_PUSHGATEWAY_URL": self.settings.pushgateway_url
            or f"http://127.0.0.1:{self.settings.pushgateway_port}",
            # the callbacks' alerts go to the stack's Alertmanager (the one alert path); when it is
            # not running they fall back to WATERSHED_ALERT_WEBHOOK_URL, if set
            "WATERSHED_ALERTMANAGER_URL": self.settings.alertmanager_url
            or f"http://127.0.0.1:{self.settings.alertmanager_port}",
            # Airflow's own metrics as StatsD to the stack's statsd_exporter (Prometheus job
            # `airflow`), tags InfluxDB style so they become labels, the new names only
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.settings.statsd_port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
            "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
            "AIRFLOW__METRICS__LEGACY_NAMES_ON": "False",
            # the Spark steps' connection: the configured master unless one is given
            "AIRFLOW_CONN_SPARK_DEFAULT": os.environ.get("AIRFLOW_CONN_SPARK_DEFAULT")
            or json.dumps({"conn_type": "spark", "host": self.settings.spark_master_url}),
        }

    def healthy(self) -> bool:
        import httpx

        try:
            health = httpx.get(f"{self.address}/api/v2/monitor/health", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def detail(self) -> str:
        return "user admin"
