"""Collector settings and write keys: parsing, hashing, environment rules, one-line errors."""

from __future__ import annotations

import pytest

from collectors.auth import TokenBucket, presented_key
from collectors.settings import DEV_WRITE_KEYS, CollectorSettings, digest, load_collector_settings
from watershed.cli import main
from watershed.errors import ConfigError

STRONG = "wk_live_8f3a9c2e71b64d05a1f0c3e9"


def test_write_keys_from_the_environment_are_kept_only_as_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "WATERSHED_COLLECTOR_WRITE_KEYS", f"web_analytics={STRONG}, web_analytics=second-key,ad_platform=ad"
    )
    settings = CollectorSettings()
    assert [(k.source.value, k.digest) for k in settings.write_keys] == [
        ("web_analytics", digest(STRONG)),
        ("web_analytics", digest("second-key")),
        ("ad_platform", digest("ad")),
    ]
    for text in (repr(settings), str(settings.model_dump()), str(settings.describe())):
        assert STRONG not in text and "second-key" not in text
    assert settings.find_key(STRONG).source.value == "web_analytics"  # type: ignore[union-attr]
    assert settings.find_key("second-key").source.value == "web_analytics"  # type: ignore[union-attr]
    assert settings.find_key("ad").source.value == "ad_platform"  # type: ignore[union-attr]
    assert settings.find_key(STRONG + "x") is None
    assert not settings.uses_dev_keys


def test_local_without_keys_uses_the_development_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_ENV", "local")
    settings = CollectorSettings()
    assert settings.uses_dev_keys
    assert {s: settings.find_key(k).source.value for s, k in DEV_WRITE_KEYS.items()} == {  # type: ignore[union-attr]
        s: s for s in DEV_WRITE_KEYS
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WATERSHED_ENV": "prod"},
         "WATERSHED_COLLECTOR_WRITE_KEYS is required when WATERSHED_ENV=prod (source=key pairs)"),
        ({"WATERSHED_ENV": "prod", "WATERSHED_COLLECTOR_WRITE_KEYS": "web_analytics=dev-web-analytics-key"},
         "WATERSHED_COLLECTOR_WRITE_KEYS: the write key of web_analytics is a development or placeholder value; "
         "set a real key for WATERSHED_ENV=prod"),
        ({"WATERSHED_ENV": "prod", "WATERSHED_COLLECTOR_WRITE_KEYS": "web_analytics=changeme"},
         "WATERSHED_COLLECTOR_WRITE_KEYS: the write key of web_analytics is a development or placeholder value; "
         "set a real key for WATERSHED_ENV=prod"),
        ({"WATERSHED_ENV": "prod", "WATERSHED_COLLECTOR_WRITE_KEYS": "web_analytics=short-but-secret"},
         "WATERSHED_COLLECTOR_WRITE_KEYS: the write key of web_analytics is shorter than 24 characters"),
        ({"WATERSHED_COLLECTOR_WRITE_KEYS": "shop=abc"},
         "WATERSHED_COLLECTOR_WRITE_KEYS: unknown source 'shop' "
         "(expected one of web_analytics, user_events, transaction_data, ad_platform)"),
        ({"WATERSHED_COLLECTOR_WRITE_KEYS": "just-a-key"},
         "WATERSHED_COLLECTOR_WRITE_KEYS: expected source=key pairs separated by commas "
         "(source one of web_analytics, user_events, transaction_data, ad_platform)"),
        ({"WATERSHED_COLLECTOR_RATE_LIMIT_BURST": "100"},
         "WATERSHED_COLLECTOR_RATE_LIMIT_BURST must hold a full batch in every worker "
         "(at least WATERSHED_COLLECTOR_MAX_BATCH_EVENTS * WATERSHED_COLLECTOR_WORKERS)"),
        ({"WATERSHED_COLLECTOR_KAFKA_TIMEOUT": "0"},
         "WATERSHED_COLLECTOR_KAFKA_TIMEOUT: Input should be greater than 0"),
    ],
)  # fmt: skip
def test_configuration_mistakes_are_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_collector_settings()
    assert str(error.value) == message


def test_prod_accepts_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_ENV", "prod")
    monkeypatch.setenv("WATERSHED_COLLECTOR_WRITE_KEYS", f"transaction_data={STRONG}")
    settings = load_collector_settings()
    assert settings.env == "prod" and not settings.uses_dev_keys


def test_a_rejected_key_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATERSHED_ENV", "prod")
    with pytest.raises(Exception) as error:
        CollectorSettings(write_keys="web_analytics=my-secret-short")
    assert "my-secret-short" not in str(error.value)


def test_rate_limits_are_shared_between_workers() -> None:
    settings = CollectorSettings(workers=4, rate_limit=1000, rate_limit_burst=4000)
    assert settings.per_worker() == (250.0, 1000)


def test_serve_reports_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WATERSHED_COLLECTOR_WRITE_KEYS", "nonsense")
    assert main(["collector", "serve"]) == 2
    assert capsys.readouterr().err == (
        "error: WATERSHED_COLLECTOR_WRITE_KEYS: expected source=key pairs separated by commas "
        "(source one of web_analytics, user_events, transaction_data, ad_platform)\n"
    )


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic YWJjOg==", "abc"),  # abc: (Segment's form)
        ("Basic YWJjOnNlY3JldA==", "abc"),  # abc:secret - the password is not the key
        ("Basic Og==", None),  # ":" - no user
        ("Basic ###", None),
        ("Digest abc", None),
        ("Bearer", None),
        ("", None),
    ],
)
def test_the_key_is_read_from_bearer_or_basic(header: str, key: str | None) -> None:
    assert presented_key(header) == key


def test_token_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("collectors.auth.time.monotonic", lambda: clock[0])
    bucket = TokenBucket(rate=10, burst=20)
    assert bucket.take(15) == 0  # 5 left
    assert bucket.take(10) == pytest.approx(0.5)  # refused whole: still 5
    clock[0] += 0.5  # +5 -> 10
    assert bucket.take(10) == 0
    assert bucket.empty() == pytest.approx(0.1)
    clock[0] += 100
    assert bucket.take(20) == 0  # never more than the burst
    assert bucket.take(1) == pytest.approx(0.1)
    assert TokenBucket(rate=0, burst=1).take(10**6) == 0  # 0 disables the limit
