"""One settings model: WATERSHED_ENV switches the services; prod refuses missing or fake secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from watershed.errors import ConfigError
from watershed.settings import load_settings

PROD = {
    "WATERSHED_ENV": "prod",
    "WATERSHED_LAKE_URI": "s3a://acme-lake/watershed",
    "WATERSHED_KAFKA_BOOTSTRAP_SERVERS": "b-1.kafka:9092,b-2.kafka:9092",
    "WATERSHED_SPARK_MASTER": "spark://spark-master:7077",
    "WATERSHED_SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "WATERSHED_SNOWFLAKE_USER": "WATERSHED_SVC",
    "WATERSHED_SNOWFLAKE_PASSWORD": "s3cr3t-Snowflake-pw",
    "WATERSHED_PII_HASH_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("WATERSHED_"):
            monkeypatch.delenv(key)


def test_local_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # state and cache follow the directory a command runs in, never the source tree
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert (s.state_dir, s.cache_dir) == (tmp_path / ".local", tmp_path / ".cache")
    assert s.env == "local"
    assert s.lake == (tmp_path / ".local" / "lake").as_uri()
    assert s.lake_is_s3 is False
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.spark_master_url == "local[*]"
    assert s.warehouse == "duckdb"
    assert s.duckdb_file == tmp_path / ".local" / "warehouse.duckdb"
    assert s.kafka_topics == {
        "user-events": 3,
        "transaction-data": 6,
        "ad-events": 3,
        "events-invalid": 1,
        "real-time-metrics": 1,
        "alerts": 1,
    }


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WATERSHED_KAFKA_PORT", "19092")
    monkeypatch.setenv("WATERSHED_S3_PORT", "19000")
    monkeypatch.setenv("WATERSHED_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("WATERSHED_KAFKA_TOPICS", '{"user-events": 12}')
    monkeypatch.setenv("WATERSHED_LAKE_URI", "s3://bucket/prefix/")
    s = load_settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.s3_endpoint_url == "http://127.0.0.1:19000"
    assert s.duckdb_file == tmp_path / "warehouse.duckdb"
    assert s.kafka_topics == {"user-events": 12}
    assert s.lake == "s3a://bucket/prefix"
    assert s.lake_is_s3 is True


def test_prod_selects_the_production_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PROD.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    assert (s.lake, s.kafka_bootstrap, s.spark_master_url, s.warehouse) == (
        "s3a://acme-lake/watershed",
        "b-1.kafka:9092,b-2.kafka:9092",
        "spark://spark-master:7077",
        "snowflake",
    )
    assert s.s3_endpoint_url is None  # real S3: the SDK's own endpoint
    assert s.s3_credentials is None  # no keys given: the instance role is used
    assert s.pii_key == PROD["WATERSHED_PII_HASH_KEY"].encode()


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("WATERSHED_PII_HASH_KEY", "WATERSHED_PII_HASH_KEY is required when WATERSHED_ENV=prod"),
        ("WATERSHED_SNOWFLAKE_PASSWORD", "WATERSHED_SNOWFLAKE_PASSWORD is required when WATERSHED_ENV=prod"),
        ("WATERSHED_LAKE_URI", "WATERSHED_LAKE_URI is required when WATERSHED_ENV=prod"),
    ],
)
def test_prod_requires_each_secret(monkeypatch: pytest.MonkeyPatch, unset: str, message: str) -> None:
    for key, value in PROD.items():
        if key != unset:
            monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["changeme", "watershed-local-development-pii-key", "  "])
def test_prod_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for key, v in {**PROD, "WATERSHED_PII_HASH_KEY": value}.items():
        monkeypatch.setenv(key, v)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value) == (
        "WATERSHED_PII_HASH_KEY holds a placeholder or development value; set a real secret for WATERSHED_ENV=prod"
    )


def test_prod_lake_must_be_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**PROD, "WATERSHED_LAKE_URI": "/data/lake"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=r"^WATERSHED_LAKE_URI must be an s3a:// URI when WATERSHED_ENV=prod"):
        load_settings()


def test_unknown_environment_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_ENV", "staging")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value) == "WATERSHED_ENV must be 'local' or 'prod' (got 'staging')"


def test_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_KAFKA_PORT", "99999")
    with pytest.raises(ConfigError, match=r"^WATERSHED_KAFKA_PORT: Input should be less than or equal to 65535"):
        load_settings()


def test_secrets_never_appear_in_output(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PROD.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    shown = repr(s) + str(s.describe()) + s.model_dump_json()
    for secret in (PROD["WATERSHED_SNOWFLAKE_PASSWORD"], PROD["WATERSHED_PII_HASH_KEY"]):
        assert secret not in shown
    assert s.describe()["secrets_set"] == ["pii_hash_key", "snowflake_password"]


def test_an_invalid_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(snowflake_password=98765432)
    assert str(error.value) == "WATERSHED_SNOWFLAKE_PASSWORD: Input should be a valid string"


def test_partition_counts_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_KAFKA_TOPICS", '{"user-events": 0}')
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value) == "WATERSHED_KAFKA_TOPICS: partition counts must be >= 1 (got user-events=0)"
