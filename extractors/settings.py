"""Settings of the ad extractors: ``WATERSHED_ADS_*`` variables.

Credentials are secrets (``SecretStr``: they print as ``**********``), given by the environment
or, in Airflow, by connections (``extractors/connections.py``); never in code, logs or XCom.
Without an account list a platform is skipped with a message, so a shop on one platform runs
the same DAG. The hosts default to the real APIs; locally they point at the fakes
(``simulator/fakes``, docs/ads.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from watershed.errors import ConfigError


class AdSettings(BaseSettings):
    """Typed configuration of the ad extractors (see docs/ads.md)."""

    model_config = SettingsConfigDict(env_prefix="WATERSHED_ADS_", extra="ignore", frozen=True)

    # Meta Ads (Marketing API): ad account ids (digits, with or without act_), a system user's
    # access token, and the app secret for appsecret_proof (optional)
    meta_account_ids: tuple[str, ...] = ()
    meta_access_token: SecretStr | None = None
    meta_app_id: str | None = None
    meta_app_secret: SecretStr | None = None
    meta_graph_url: str = "https://graph.facebook.com"
    meta_lookback_days: int = Field(28, ge=1, le=28)  # Meta freezes insights after 28 days
    meta_job_timeout_seconds: float = Field(3600.0, gt=0)

    # Google Ads (API through google-ads): customer ids (digits, dashes allowed), the developer
    # token, an OAuth client and its refresh token (installed-app flow), and the manager account
    # the calls go through (optional). TLS roots: gRPC's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
    google_customer_ids: tuple[str, ...] = ()
    google_developer_token: SecretStr | None = None
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_refresh_token: SecretStr | None = None
    google_login_customer_id: str | None = None
    google_endpoint: str = "googleads.googleapis.com:443"
    google_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    google_lookback_days: int = Field(30, ge=1, le=90)  # the default conversion window is 30 days
    # a CA bundle the gRPC channel trusts (exported as GRPC_DEFAULT_SSL_ROOTS_FILE_PATH before the
    # first channel): the local fake's certificate; unset, gRPC's own roots
    google_roots_file: Path | None = None

    # In Airflow, connections with these ids (when they exist) override the fields above
    # (extractors/connections.py; the ids Airflow's Google and Facebook providers default to)
    google_conn_id: str = "google_ads_default"
    meta_conn_id: str = "facebook_default"


STACK_ENV_FILE = "ad-apis/fake.env"  # under the state dir: written by the stack's fakes while they run


def load_ad_settings(**overrides: object) -> AdSettings:
    """The settings from the environment; locally, while `watershed stack up ad-apis` runs, the
    variables its fakes wrote fill in whatever the environment does not set."""
    from watershed.settings import load_settings

    platform = load_settings()
    env_file = platform.state_dir / STACK_ENV_FILE
    if platform.env == "local" and env_file.is_file():
        overrides = {"_env_file": env_file, **overrides}
    try:
        settings = AdSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = "WATERSHED_ADS_" + str(first["loc"][0]).upper() if first.get("loc") else "WATERSHED_ADS_*"
        raise ConfigError(f"{name}: {first.get('msg', 'invalid value')}") from None
    if settings.google_roots_file is not None:
        # gRPC reads its configuration once, at its first use in the process: set it before that
        # (over a machine-wide value: this one is what the configured endpoint needs)
        os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(settings.google_roots_file)
    return settings
