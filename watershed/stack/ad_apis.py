"""The ad platforms' local stand-ins: `watershed fake-ad-api` serving a simulated world.

At each start the service generates the simulator's ad world for the 30 days up to yesterday
(the extraction lookbacks: Google 30, Meta 28) and serves it: Meta's Graph API over HTTP, Google
Ads over gRPC with TLS (a certificate made at start) and its OAuth token endpoint. Once they
listen the fakes write ``<state>/ad-apis/fake.env``, the ``WATERSHED_ADS_*`` variables that point
the extractors at them; `load_ad_settings` reads it locally for what the environment does not
set, so `watershed ads extract` and the `ad_campaign_daily` DAG run against the fakes with no
configuration. The file is removed when the fakes stop. The core runs the simulator's command;
it does not import it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watershed.errors import StackError
from watershed.stack.process import port_open
from watershed.stack.service import Service

WORLD_DAYS = 30
WORLD_EVENTS = 30_000


class AdApis(Service):
    name = "ad-apis"
    startup_timeout = 60.0

    @property
    def ports(self) -> dict[str, int]:
        return {"meta": self.settings.ad_apis_meta_port, "google": self.settings.ad_apis_google_port}

    @property
    def address(self) -> str:
        meta, google = self.settings.ad_apis_meta_port, self.settings.ad_apis_google_port
        return f"http://127.0.0.1:{meta} (Meta), localhost:{google} (Google, TLS)"

    @property
    def env_file(self) -> Path:
        return self.home / "fake.env"

    @property
    def world(self) -> Path:
        return self.home / "world"

    def _watershed(self) -> str:
        return str(Path(sys.executable).parent / "watershed")

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env_file.unlink(missing_ok=True)  # a killed run's file points at nobody
        done = subprocess.run(
            [self._watershed(), "generate", "--out", str(self.world), "--start-date", "recent",
             "--days", str(WORLD_DAYS), "--events", str(WORLD_EVENTS)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            raise StackError(f"ad-apis: generating the ad world failed: {done.stderr.strip()[-500:]}")

    def command(self) -> list[str]:
        return [self._watershed(), "fake-ad-api", "--generated", str(self.world),
                "--port", str(self.settings.ad_apis_meta_port),
                "--google-port", str(self.settings.ad_apis_google_port),
                "--env-file", str(self.env_file)]  # fmt: skip

    def healthy(self) -> bool:
        ports = self.ports.values()
        return self.env_file.is_file() and all(port_open(p) for p in ports)

    def detail(self) -> str:
        return f"{WORLD_DAYS} simulated days up to yesterday; WATERSHED_ADS_* in {self.env_file}"
