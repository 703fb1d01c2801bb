"""Ad credentials from Airflow connections in the providers' shapes: a connection overrides its
platform's settings field by field, secrets stay SecretStr, a missing connection changes nothing,
and a malformed id list is a clear error."""

import pytest

from extractors.connections import google_overrides, meta_overrides, with_connections
from extractors.settings import AdSettings
from watershed.errors import ConfigError

GOOGLE = {
    "google_ads_client": {
        "developer_token": "dev",  # pragma: allowlist secret
        "client_id": "cid",
        "client_secret": "csecret",  # pragma: allowlist secret
        "refresh_token": "refresh",  # pragma: allowlist secret
        "login_customer_id": "123-456-7890",
    },
    "customer_ids": "111-222-3333, 4445556666",
    "endpoint": "localhost:9443",
}
META = {"app_id": "42", "app_secret": "s", "access_token": "t", "account_id": ["act_1", 2]}  # pragma: allowlist secret


def secrets(settings: AdSettings) -> dict:
    return {k: v.get_secret_value() for k, v in settings.model_dump().items() if hasattr(v, "get_secret_value")}


def test_both_connections_override_the_settings():
    base = AdSettings(meta_graph_url="http://127.0.0.1:1", google_lookback_days=7, meta_access_token="old")
    extras = {"google_ads_default": GOOGLE, "facebook_default": META}
    settings, used = with_connections(base, extras.get)
    assert used == ["google_ads_default", "facebook_default"]
    assert settings.google_customer_ids == ("111-222-3333", "4445556666")
    assert settings.google_client_id == "cid" and settings.google_login_customer_id == "123-456-7890"
    assert settings.google_endpoint == "localhost:9443"
    assert settings.google_token_uri == "https://oauth2.googleapis.com/token"  # not in the connection: kept
    assert settings.meta_account_ids == ("act_1", "2") and settings.meta_app_id == "42"
    assert settings.meta_graph_url == "http://127.0.0.1:1" and settings.google_lookback_days == 7
    assert secrets(settings) == {
        "meta_access_token": "t",
        "meta_app_secret": "s",
        "google_developer_token": "dev",
        "google_client_secret": "csecret",  # pragma: allowlist secret
        "google_refresh_token": "refresh",
    }
    assert "csecret" not in repr(settings)


def test_without_connections_the_settings_stand():
    base = AdSettings(meta_account_ids=("1",), meta_access_token="t")
    settings, used = with_connections(base, lambda conn_id: None)
    assert used == [] and settings is base


def test_the_keys_may_sit_at_the_top_of_extra_and_the_ids_are_configurable():
    base = AdSettings(google_conn_id="ads_google", meta_conn_id="ads_meta")
    settings, used = with_connections(base, {"ads_google": {"developer_token": "d", "customer_ids": ["1"]}}.get)
    assert used == ["ads_google"]
    assert settings.google_developer_token.get_secret_value() == "d" and settings.google_customer_ids == ("1",)


def test_a_malformed_id_list_names_the_connection():
    with pytest.raises(ConfigError) as raised:
        meta_overrides("facebook_default", {"account_id": {"id": 1}})
    assert str(raised.value) == (
        "Airflow connection facebook_default: extra account_id must be a list or a comma-separated string"
    )
    with pytest.raises(ConfigError) as raised:
        google_overrides("google_ads_default", {"google_ads_client": "dev"})
    assert str(raised.value) == "Airflow connection google_ads_default: extra google_ads_client must be an object"
