"""`watershed fake-ad-api`: serve the fake ad platform APIs on loopback until stopped.

The extractors run unchanged against them (docs/ads.md). They serve the ad platform rows of a
`watershed generate` output folder: Meta's Graph API over HTTP, Google Ads over gRPC with TLS
(a certificate generated at start) and its OAuth token endpoint. ``--env-file`` writes the
``WATERSHED_ADS_*`` variables (and ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, which makes gRPC trust
the fake's certificate) that point an extraction at them, once every server listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

PLATFORMS = ("google_ads", "facebook_ads")
META_TOKEN = "fake-meta-access-token"  # noqa: S105 - the local fake's, nothing real


def fake_env(meta: Any = None, google: Any = None) -> dict[str, str]:
    """The variables that point the extractors at running fakes (each given one, or None)."""
    from simulator.fakes.tls import ROOTS_ENV

    env: dict[str, str] = {}
    if meta is not None:
        env |= {
            "WATERSHED_ADS_META_ACCOUNT_IDS": json.dumps(sorted(meta.accounts)),
            "WATERSHED_ADS_META_ACCESS_TOKEN": meta.access_token,
            "WATERSHED_ADS_META_GRAPH_URL": meta.url,
        }
    if google is not None:
        env |= {
            "WATERSHED_ADS_GOOGLE_CUSTOMER_IDS": json.dumps(sorted(google.accounts)),
            "WATERSHED_ADS_GOOGLE_DEVELOPER_TOKEN": google.developer_token,
            "WATERSHED_ADS_GOOGLE_CLIENT_ID": google.client_id,
            "WATERSHED_ADS_GOOGLE_CLIENT_SECRET": google.client_secret,
            "WATERSHED_ADS_GOOGLE_REFRESH_TOKEN": google.refresh_token,
            "WATERSHED_ADS_GOOGLE_ENDPOINT": google.endpoint,
            "WATERSHED_ADS_GOOGLE_TOKEN_URI": google.token_uri,
            "WATERSHED_ADS_GOOGLE_ROOTS_FILE": os.environ[ROOTS_ENV],  # the fake's certificate
            ROOTS_ENV: os.environ[ROOTS_ENV],  # set by the fake's start (simulator/fakes/tls.py)
        }
    return env


def connection_env(meta: Any, google: Any) -> dict[str, str]:
    """The same credentials as Airflow connections (``AIRFLOW_CONN_<ID>`` in Airflow's JSON form,
    the shapes of extractors/connections.py), for runs that configure the extractors that way."""
    from simulator.fakes.tls import ROOTS_ENV

    google_extra = {
        "google_ads_client": {
            "developer_token": google.developer_token,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
            "refresh_token": google.refresh_token,
        },
        "customer_ids": sorted(google.accounts),
        "endpoint": google.endpoint,
        "token_uri": google.token_uri,
    }
    meta_extra = {"access_token": meta.access_token, "account_id": sorted(meta.accounts), "graph_url": meta.url}
    return {
        "AIRFLOW_CONN_GOOGLE_ADS_DEFAULT": json.dumps({"conn_type": "google_ads", "extra": google_extra}),
        "AIRFLOW_CONN_FACEBOOK_DEFAULT": json.dumps({"conn_type": "facebook_social", "extra": meta_extra}),
        ROOTS_ENV: os.environ[ROOTS_ENV],
    }


@click.command("fake-ad-api")
@click.option("--platform", type=click.Choice(PLATFORMS), multiple=True, help="Only these (default: both).")
@click.option(
    "--generated",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A `watershed generate` output folder: its ad_platform/<platform>/ rows are served.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Meta's port (default: a free one).")
@click.option("--google-port", type=click.IntRange(0, 65535), default=0, help="Google's gRPC port (default: free).")
@click.option("--token-port", type=click.IntRange(0, 65535), default=0, help="Google's OAuth token port.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the variables here.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (0.0.0.0 in a container).")
@click.option("--public-host", help="The name clients use (a compose service); the certificate names it too.")
@click.option(
    "--tls-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the fake CA goes [a temp dir]."
)
def fake_ad_api(
    platform: tuple[str, ...],
    generated: Path,
    port: int,
    google_port: int,
    token_port: int,
    env_file: Path | None,
    host: str,
    public_host: str | None,
    tls_dir: Path | None,
) -> None:
    """Serve fake ad platform APIs (Meta's Graph API, Google Ads) for local runs and the demo."""
    import pyarrow.parquet as pq

    from simulator.fakes.google_ads import FakeGoogleAds
    from simulator.fakes.meta_ads import FakeMetaAds
    from watershed.envfile import write_env_file

    def rows(name: str) -> list[dict[str, Any]]:
        files = sorted((generated / "ad_platform" / name).glob("*/rows.parquet"))
        return [row for path in files for row in pq.read_table(path).to_pylist()]

    chosen = platform or PLATFORMS
    meta = google = None
    if "facebook_ads" in chosen:
        meta = FakeMetaAds(rows("facebook_ads"), access_token=META_TOKEN)
        meta.start(port, host=host, public_host=public_host or "127.0.0.1")
    if "google_ads" in chosen:
        google = FakeGoogleAds(rows("google_ads"))
        google.start(google_port, token_port, host=host, public_host=public_host or "localhost", tls_dir=tls_dir)
    try:
        env = fake_env(meta, google)
        if meta is not None:
            click.echo(f"facebook_ads fake at {meta.url}", err=True)
        if google is not None:
            click.echo(f"google_ads fake at {google.endpoint} (token endpoint {google.token_uri})", err=True)
        if env_file is not None:
            write_env_file(env_file, env)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    finally:
        if env_file is not None:  # gone with the fakes: nothing points at a port nobody serves
            env_file.unlink(missing_ok=True)
        for fake in (meta, google):
            if fake is not None:
                fake.stop()
