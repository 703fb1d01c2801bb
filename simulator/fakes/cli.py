"""`watershed fake-ad-api`: serve a fake ad platform API on loopback until stopped.

The extractors run unchanged against it (docs/ads.md): point WATERSHED_ADS_META_GRAPH_URL at the
printed URL. It serves the ad platform rows of a `watershed generate` output folder.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click


@click.command("fake-ad-api")
@click.option("--platform", type=click.Choice(["facebook_ads"]), default="facebook_ads", show_default=True)
@click.option(
    "--generated",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A `watershed generate` output folder: its ad_platform/<platform>/ rows are served.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--access-token", envvar="WATERSHED_ADS_META_ACCESS_TOKEN", default="fake-meta-access-token")
def fake_ad_api(platform: str, generated: Path, port: int, access_token: str) -> None:
    """Serve a fake ad platform API (Meta's Graph API) for local runs and the demo."""
    import pyarrow.parquet as pq

    from simulator.fakes.meta_ads import FakeMetaAds

    files = sorted((generated / "ad_platform" / platform).glob("*/rows.parquet"))
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    fake = FakeMetaAds(rows, access_token=access_token).start(port)
    click.echo(f"{platform} fake at {fake.url}: {len(rows):,} rows of {len(files)} day(s)", err=True)
    click.echo(fake.url, nl=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
