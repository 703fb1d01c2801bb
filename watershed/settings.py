"""One settings model for the whole platform.

``WATERSHED_ENV`` selects the backing services:

* ``local`` (default): a folder lake under ``.local/lake`` (or the local S3 server when
  ``WATERSHED_LAKE_URI=s3a://...``), a DuckDB warehouse file, the local Kafka broker started by
  ``watershed stack up`` and Spark in ``local[*]`` mode. Development secrets have defaults.
* ``prod``: S3, Snowflake, a Kafka cluster and a Spark cluster. Every secret must be given in the
  environment; development defaults and placeholder values are refused.

Every field can be overridden with ``WATERSHED_<FIELD>`` (for example ``WATERSHED_KAFKA_PORT=19092``).
Secrets are ``SecretStr``: they print as ``**********`` and :meth:`Settings.describe` never shows them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from watershed.contract.semantics import LATE_AFTER
from watershed.errors import ConfigError

DEFAULT_TOPICS: dict[str, int] = {
    "user-events": 3,
    "transaction-data": 6,
    "ad-events": 3,
    "events-invalid": 1,
    "real-time-metrics": 1,
    "alerts": 1,
}

# Development-only secret values: accepted in local, refused in prod.
_DEV_S3_ACCESS_KEY = "watershed"
_DEV_S3_SECRET_KEY = "watershed-local-secret"  # noqa: S105 - local-only default, refused in prod
_DEV_PII_KEY = "watershed-local-development-pii-key"
_PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "xxx",
        "todo",
        "placeholder",
        _DEV_S3_ACCESS_KEY,
        _DEV_S3_SECRET_KEY,
        _DEV_PII_KEY,
    }
)

_SECRET_FIELDS = frozenset(
    {
        "pii_hash_key",
        "snowflake_password",
        "s3_access_key",
        "s3_secret_key",
        "airflow_admin_password",
        "redis_password",
        "postgres_password",
        "alert_slack_webhook_url",
        "alert_pagerduty_routing_key",
    }
)

# Secrets required when WATERSHED_ENV=prod, with what they are for.
PROD_SECRETS: dict[str, str] = {
    "pii_hash_key": "the HMAC key that pseudonymises email, phone and IP",
    "snowflake_password": "the Snowflake password of WATERSHED_SNOWFLAKE_USER",
}
# Plain settings required when WATERSHED_ENV=prod (no sensible default exists).
PROD_REQUIRED: dict[str, str] = {
    "lake_uri": "the lake location, e.g. s3a://my-bucket/watershed",
    "kafka_bootstrap_servers": "the Kafka cluster, e.g. b-1.kafka:9092,b-2.kafka:9092",
    "spark_master": "the Spark master URL, e.g. spark://spark-master:7077",
    "snowflake_account": "the Snowflake account identifier",
    "snowflake_user": "the Snowflake user",
}


class Settings(BaseSettings):
    """Typed configuration; see the module docstring for how environments work."""

    model_config = SettingsConfigDict(env_prefix="WATERSHED_", extra="ignore", frozen=True)

    env: Literal["local", "prod"] = "local"

    # Where local state lives: data, logs and pid files of the local stack (default ./.local).
    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".local")
    # Where `make setup` puts the JVM jars and built binaries (default ./.cache; the Makefile
    # exports both for the checkout, so they do not depend on the directory a command runs in).
    cache_dir: Path = Field(default_factory=lambda: Path.cwd() / ".cache")

    # The lake: a local folder path / file:// URI, or s3a://bucket/prefix.
    lake_uri: str | None = None

    # Kafka
    kafka_bootstrap_servers: str | None = None
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_topics: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_TOPICS))
    kafka_heap: str = "768m"
    # the broker's metrics for Prometheus (the JMX exporter's java agent, monitoring/kafka-jmx.yml)
    kafka_metrics_port: int = Field(9404, ge=1, le=65535)

    # S3-compatible object store (the local one is started by `watershed stack up`)
    s3_port: int = Field(9000, ge=1, le=65535)
    s3_endpoint: str | None = None
    s3_bucket: str = "watershed"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    # Redis: the live ad counters of the real-time job (the local one is started by `watershed stack
    # up`); in prod a managed Redis, e.g. WATERSHED_REDIS_URL=rediss://redis.internal:6380/0
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_url: str | None = None
    redis_password: SecretStr | None = None

    # PostgreSQL: the local Airflow's metadata database (`watershed stack up` starts it with
    # Airflow). 5433, not 5432, which is usually the machine's own PostgreSQL. The role's password
    # is generated at the first start (<state>/postgres/password) unless given here.
    postgres_port: int = Field(5433, ge=1, le=65535)
    postgres_password: SecretStr | None = None

    # The ad platforms' local stand-ins (`watershed stack up ad-apis`): Meta's Graph API over HTTP,
    # Google Ads over gRPC with TLS; they serve a simulated world of the last 30 days
    ad_apis_meta_port: int = Field(8701, ge=1, le=65535)
    ad_apis_google_port: int = Field(8702, ge=1, le=65535)

    # An event received more than this after it occurred is late: landing flags it, the bronze
    # gate bounds its share, the real-time job counts it (watershed.contract.semantics)
    late_after_seconds: float = Field(LATE_AFTER.total_seconds(), gt=0)

    # Spark
    spark_master: str | None = None
    # the Python the executors start (default: the driver's interpreter; on a cluster, the path
    # of the same environment on the worker nodes)
    spark_python: str | None = None
    # the local standalone cluster (`watershed stack up --spark-cluster`): a master, two workers
    spark_master_port: int = Field(7077, ge=1, le=65535)
    spark_master_ui_port: int = Field(8090, ge=1, le=65533)
    spark_worker_cores: int = Field(1, ge=1)
    spark_worker_memory: str = Field("2g", pattern=r"^\d+[mg]$")
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int | None = Field(None, ge=1)

    # Warehouse: DuckDB locally, Snowflake in prod
    duckdb_path: Path | None = None
    # How `warehouse load` puts a day in DuckDB's raw schema: "attach" (views over the lake's
    # Parquet files, nothing copied) or "copy" (rows written into the DuckDB file)
    duckdb_raw: Literal["attach", "copy"] = "attach"
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_password: SecretStr | None = None
    snowflake_role: str = "TRANSFORMER"
    snowflake_warehouse: str = "TRANSFORMING"
    snowflake_database: str = "WATERSHED"
    # where the connector connects, when not <account>.snowflakecomputing.com over https (a
    # private link, or the local wire fake the tests run: simulator/fakes/snowflake.py)
    snowflake_host: str | None = None
    snowflake_port: int | None = Field(None, ge=1, le=65535)
    snowflake_protocol: Literal["https", "http"] = "https"

    # Airflow, run locally by `watershed stack up airflow` (`airflow standalone`)
    airflow_port: int = Field(8080, ge=1, le=65535)
    airflow_log_server_port: int = Field(8793, ge=1, le=65535)
    airflow_admin_password: SecretStr | None = None

    # Where pipeline alerts go: Alertmanager's API when set (the one alert path, docs/monitoring.md),
    # else a Slack-compatible incoming webhook; neither: alerts are only logged. An event alert
    # (a failed task) stays active in Alertmanager for alert_event_hold, then resolves.
    alertmanager_url: str | None = None
    alert_webhook_url: str | None = None
    alert_event_hold: timedelta = timedelta(hours=1)

    # Monitoring, run locally by `watershed stack up prometheus` (and alertmanager, pushgateway;
    # all three in `--all`): Debian's servers on loopback, configured from monitoring/ by
    # watershed/stack/monitoring.py. Alertmanager's usual 9093 is Kafka's controller here.
    prometheus_port: int = Field(9090, ge=1, le=65535)
    pushgateway_port: int = Field(9091, ge=1, le=65535)
    # where the batch jobs push their per-run metrics (spark_jobs/metrics.py); unset: not pushed.
    # The stack's Airflow sets it to the stack's Pushgateway.
    pushgateway_url: str | None = None
    alertmanager_port: int = Field(9095, ge=1, le=65535)
    monitoring_scrape_interval: str = Field("15s", pattern=r"^\d+(ms|s|m)$")
    # the collectors Prometheus scrapes (`watershed collector serve` listens on 8000)
    monitoring_collector_targets: list[str] = Field(default_factory=lambda: ["127.0.0.1:8000"])
    # the platform's own state as metrics (`watershed monitor exporter`, monitoring/exporter.py):
    # pipeline runs from Airflow's metadata database (default: the stack's PostgreSQL), consumer
    # lag, the real-time job's heartbeat, the warehouse's freshness
    exporter_port: int = Field(9108, ge=1, le=65535)
    # the real-time job's Spark UI, where Prometheus scrapes Spark's own metrics of it
    realtime_ui_port: int = Field(4041, ge=1, le=65535)
    # Airflow's own metrics: StatsD (UDP) into the statsd_exporter, which Prometheus scrapes
    statsd_port: int = Field(9125, ge=1, le=65535)
    statsd_exporter_port: int = Field(9102, ge=1, le=65535)
    monitoring_airflow_db_url: SecretStr | None = None
    # Alertmanager's routes: every alert to Slack (an incoming webhook), the critical ones also to
    # PagerDuty (Events API v2, with the integration's routing key); unset: that receiver is off
    alert_slack_webhook_url: SecretStr | None = None
    alert_pagerduty_routing_key: SecretStr | None = None
    alert_pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    # how long Alertmanager gathers a group's alerts before the first notification, and between
    # updates of a group, and before repeating an unchanged one
    alert_group_wait: str = Field("30s", pattern=r"^\d+(ms|s|m|h)$")
    alert_group_interval: str = Field("5m", pattern=r"^\d+(ms|s|m|h)$")
    alert_repeat_interval: str = Field("4h", pattern=r"^\d+(ms|s|m|h)$")

    # Personal data: keyed hashing (HMAC-SHA256) with a key id stored beside each hash
    pii_hash_key: SecretStr | None = None
    pii_hash_key_id: str = "k1"

    @field_validator("kafka_topics")
    @classmethod
    def _positive_partitions(cls, topics: dict[str, int]) -> dict[str, int]:
        bad = [f"{name}={n}" for name, n in topics.items() if n < 1]
        if bad:
            raise ValueError(f"partition counts must be >= 1 (got {', '.join(bad)})")
        return topics

    @model_validator(mode="after")
    def _check_environment(self) -> Settings:
        if self.env != "prod":
            return self
        missing = [name for name in PROD_REQUIRED if getattr(self, name) in (None, "")]
        missing += [name for name in PROD_SECRETS if getattr(self, name) is None]
        if missing:
            name = missing[0]
            what = PROD_REQUIRED.get(name) or PROD_SECRETS[name]
            raise ValueError(
                f"WATERSHED_{name.upper()} is required when WATERSHED_ENV=prod ({what})"
                + (
                    f"; also missing: {', '.join('WATERSHED_' + m.upper() for m in missing[1:])}"
                    if len(missing) > 1
                    else ""
                )
            )
        for name in [*PROD_SECRETS, "s3_access_key", "s3_secret_key"]:
            value = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError(
                    f"WATERSHED_{name.upper()} holds a placeholder or development value; "
                    "set a real secret for WATERSHED_ENV=prod"
                )
        if not str(self.lake_uri).startswith(("s3a://", "s3://")):
            raise ValueError(
                f"WATERSHED_LAKE_URI must be an s3a:// URI when WATERSHED_ENV=prod (got {self.lake_uri!r})"
            )
        return self

    # ---- resolved values (environment defaults applied) -------------------------------------

    @property
    def lake(self) -> str:
        """The lake root as a URI Spark understands: ``file:///...`` or ``s3a://bucket/prefix``."""
        if self.lake_uri:
            uri = self.lake_uri.rstrip("/")
            if uri.startswith("s3://"):
                uri = "s3a://" + uri[len("s3://") :]
            if "://" not in uri:
                uri = Path(uri).resolve().as_uri()
            return uri
        return (self.state_dir / "lake").resolve().as_uri()

    @property
    def lake_is_s3(self) -> bool:
        return self.lake.startswith("s3a://")

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.kafka_port}"

    @property
    def s3_endpoint_url(self) -> str | None:
        if self.s3_endpoint:
            return self.s3_endpoint
        return f"http://127.0.0.1:{self.s3_port}" if self.env == "local" else None

    @property
    def s3_credentials(self) -> tuple[str, str] | None:
        """(access key, secret key); None in prod without keys (use the instance's role)."""
        if self.s3_access_key and self.s3_secret_key:
            return self.s3_access_key.get_secret_value(), self.s3_secret_key.get_secret_value()
        if self.env == "local":
            return _DEV_S3_ACCESS_KEY, _DEV_S3_SECRET_KEY
        return None

    @property
    def redis_address(self) -> str:
        """The Redis URL (without the password, which is ``redis_password``)."""
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def spark_master_url(self) -> str:
        return self.spark_master or "local[*]"

    @property
    def shuffle_partitions(self) -> int:
        """Small machines drown in Spark's default 200 partitions; size them to the cores."""
        if self.spark_shuffle_partitions:
            return self.spark_shuffle_partitions
        return max(2, 2 * (os.cpu_count() or 2))

    @property
    def warehouse(self) -> Literal["duckdb", "snowflake"]:
        return "snowflake" if self.env == "prod" else "duckdb"

    @property
    def duckdb_file(self) -> Path:
        return self.duckdb_path or self.state_dir / "warehouse.duckdb"

    @property
    def pii_key(self) -> bytes:
        key = self.pii_hash_key.get_secret_value() if self.pii_hash_key else _DEV_PII_KEY
        return key.encode()

    @property
    def airflow_password(self) -> str:
        """The local Airflow UI's admin password (user `admin`)."""
        return self.airflow_admin_password.get_secret_value() if self.airflow_admin_password else "admin"

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    def describe(self) -> dict[str, Any]:
        """The resolved configuration without any secret value (safe to print or log)."""
        return {
            "env": self.env,
            "state_dir": str(self.state_dir),
            "lake": self.lake,
            "kafka_bootstrap_servers": self.kafka_bootstrap,
            "kafka_topics": dict(self.kafka_topics),
            "s3_endpoint": self.s3_endpoint_url,
            "s3_bucket": self.s3_bucket,
            "redis": _without_password(self.redis_address),
            "spark_master": self.spark_master_url,
            "spark_shuffle_partitions": self.shuffle_partitions,
            "warehouse": self.warehouse,
            "duckdb_path": str(self.duckdb_file) if self.warehouse == "duckdb" else None,
            "snowflake_account": self.snowflake_account,
            # names only: every secret field, and the alert webhook (its URL is its credential)
            "secrets_set": sorted(
                name for name in (*_SECRET_FIELDS, "alert_webhook_url") if getattr(self, name) is not None
            ),
        }


def _without_password(url: str) -> str:
    """`url` with any password in it replaced by `***` (safe to print)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))


def _one_line(error: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line naming the variable to fix."""
    first = error.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "__root__"]
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    if loc:
        var = "WATERSHED_" + loc[0].upper()
        if first.get("type") == "literal_error" and loc[0] == "env":
            return f"{var} must be 'local' or 'prod' (got {first.get('input')!r})"
        if loc[0] in _SECRET_FIELDS or first.get("type") == "value_error":  # our messages say it all
            return f"{var}: {msg}"
        return f"{var}: {msg} (got {first.get('input')!r})"
    return msg


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; configuration mistakes raise :class:`ConfigError`
    with one line that says what to fix."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_one_line(error)) from None
