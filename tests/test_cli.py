"""The `watershed` entry: `config show` prints every settings model without a secret value, and
`--help` lists every command under the room it comes from."""

from __future__ import annotations

import json
import os
import re

import pytest

from collectors.settings import CollectorSettings
from quality.settings import QualitySettings
from spark_jobs.streaming.config import StreamConfig
from watershed.cli import cli, main
from watershed.settings import Settings

# Distinctive secret values: none may appear anywhere in the output.
SECRETS = {
    "WATERSHED_PII_HASH_KEY": "pii-7f3c1e9a5b2d4c6e8f0a",
    "WATERSHED_SNOWFLAKE_PASSWORD": "snowflake-pw-91b2c3d4e5",
    "WATERSHED_S3_ACCESS_KEY": "s3-access-4c5d6e7f8a9b",
    "WATERSHED_S3_SECRET_KEY": "s3-secret-0a1b2c3d4e5f",
    "WATERSHED_REDIS_PASSWORD": "redis-pw-6e7f8a9b0c1d",
    "WATERSHED_AIRFLOW_ADMIN_PASSWORD": "airflow-pw-2d3e4f5a6b7c",
    "WATERSHED_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/alert-webhook-5e6f7a8b",
    "WATERSHED_QUALITY_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/quality-webhook-9c0d1e2f",
    "WATERSHED_PAGERDUTY_ROUTING_KEY": "pagerduty-rk-3a4b5c6d7e8f",
}
WRITE_KEY = "wk-live-8f3a9c2e71b64d05a1f0c3e9"
URL_PASSWORDS = {
    "WATERSHED_REDIS_URL": ("redis://app:redis-url-pw-7b8c9d0e@redis.internal:6380/0", "redis-url-pw-7b8c9d0e"),
    "WATERSHED_QUALITY_PUSHGATEWAY_URL": (
        "https://metrics:push-pw-1f2e3d4c@push.internal:9091",
        "push-pw-1f2e3d4c",
    ),
}
MASK = "**********"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("WATERSHED_"):
            monkeypatch.delenv(key)


def show(capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, dict[str, object]]]:
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    return out, json.loads(out)


def test_config_show_prints_every_settings_model(capsys: pytest.CaptureFixture[str]) -> None:
    _, shown = show(capsys)
    assert list(shown) == ["watershed", "collectors", "quality", "streaming", "ads"]
    assert shown["watershed"] == Settings().describe()
    assert shown["collectors"] == CollectorSettings().describe()
    assert set(shown["quality"]) == set(QualitySettings.model_fields)
    assert shown["quality"]["marts_schema"] == "marts" and shown["quality"]["webhook_url"] is None
    stream = StreamConfig.for_settings(Settings())
    assert set(shown["streaming"]) == set(stream.__dataclass_fields__)
    assert shown["streaming"]["window"] == "5 minutes"
    assert shown["streaming"]["thresholds"] == {"spike_ratio": 3.0, "revenue_drop_ratio": 0.5, "min_previous_events": 1}
    assert shown["streaming"]["home"] == str(stream.home)


def test_config_show_reads_each_models_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATERSHED_KAFKA_PORT", "19092")
    monkeypatch.setenv("WATERSHED_COLLECTOR_PORT", "8123")
    monkeypatch.setenv("WATERSHED_QUALITY_SAMPLES", "25")
    monkeypatch.setenv("WATERSHED_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
    monkeypatch.setenv("WATERSHED_PAGERDUTY_ROUTING_KEY", "rk")
    _, shown = show(capsys)
    assert shown["watershed"]["kafka_bootstrap_servers"] == "127.0.0.1:19092"
    assert shown["collectors"]["port"] == 8123
    assert shown["quality"]["samples"] == 25
    assert shown["streaming"]["pagerduty_url"] == "https://events.pagerduty.com/v2/enqueue"
    assert shown["streaming"]["pagerduty_routing_key"] == MASK


def test_config_show_never_prints_a_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    for name, (url, _) in URL_PASSWORDS.items():
        monkeypatch.setenv(name, url)
    monkeypatch.setenv("WATERSHED_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
    monkeypatch.setenv("WATERSHED_COLLECTOR_WRITE_KEYS", f"web_analytics={WRITE_KEY}")
    out, shown = show(capsys)
    for secret in [*SECRETS.values(), WRITE_KEY, *(password for _, password in URL_PASSWORDS.values())]:
        assert secret not in out
    # the secrets are set (and said to be), only their values are left out
    assert shown["watershed"]["secrets_set"] == sorted(
        ["pii_hash_key", "snowflake_password", "s3_access_key", "s3_secret_key", "redis_password",
         "airflow_admin_password", "alert_webhook_url"]
    )  # fmt: skip
    assert shown["watershed"]["redis"] == "redis://app:***@redis.internal:6380/0"
    assert shown["collectors"]["write_key_sources"] == ["web_analytics"]
    assert shown["quality"]["webhook_url"] == MASK
    assert shown["quality"]["pushgateway_url"] == "https://metrics:***@push.internal:9091"
    assert shown["streaming"]["slack_url"] == MASK
    assert shown["streaming"]["pagerduty_routing_key"] == MASK


def test_config_show_names_a_components_mistake_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATERSHED_QUALITY_SAMPLES", "0")
    assert main(["config", "show"]) == 2
    assert capsys.readouterr().err == "error: WATERSHED_QUALITY_SAMPLES: Input should be greater than or equal to 1\n"


# Which room each command comes from, as a new user reads it in `watershed --help`.
ROOMS = {
    "core (watershed/)": ["config", "contract", "demo", "stack"],
    "collectors/": ["collector"],
    "simulator/": ["fake-ad-api", "generate"],
    "spark_jobs/": ["ad-counters", "gold", "land", "sessionize", "stream"],
    "warehouse/": ["warehouse"],
    "quality/": ["quality"],
    "extractors/": ["ads"],
    "monitoring/": ["monitor"],
}


def help_sections(text: str) -> dict[str, list[str]]:
    """Heading (up to its " - " description) -> the first word of each line below it."""
    sections: dict[str, list[str]] = {}
    for block in text.split("\n\n"):
        heading, *rows = block.strip("\n").splitlines()
        if heading.endswith(":") and rows:
            sections[heading.split(" - ")[0].rstrip(":")] = [row.split()[0] for row in rows if row.startswith("  ")]
    return sections


def test_help_lists_every_command_under_its_room(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    sections = help_sections(text)
    assert {heading: sections.get(heading) for heading in ROOMS} == ROOMS
    assert "Rooms without a command of their own" not in sections  # every room has one
    listed = [name for heading in ROOMS for name in sections[heading]]
    assert sorted(listed) == sorted(cli.list_commands(None))  # type: ignore[arg-type]
    assert re.search(r"^  ad-counters +Live per-campaign ad counters", text, re.MULTILINE)
    assert "-v, --verbose" in text and "--log-level" in text and "WATERSHED_LOG_LEVEL" in text
