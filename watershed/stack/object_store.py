"""MinIO, the S3 server of the local stack."""

from __future__ import annotations

import os
from pathlib import Path

from watershed.errors import StackError
from watershed.stack.service import Service


class ObjectStore(Service):
    """MinIO, the S3-compatible server the lake's s3a:// mode is tested against locally."""

    name = "s3"

    @property
    def ports(self) -> dict[str, int]:
        return {"s3": self.settings.s3_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.s3_port}"

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / "bin" / "minio"

    def check_installed(self) -> None:
        if not self.binary.exists():
            raise StackError(f"the MinIO server is missing at {self.binary}: run `make setup` (builds it with Go)")

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.binary), "server", str(self.home / "data"), "--quiet",
                "--address", f"127.0.0.1:{self.settings.s3_port}"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        creds = self.settings.s3_credentials
        assert creds is not None  # local mode always has credentials
        return {
            **os.environ,
            "MINIO_ROOT_USER": creds[0],
            "MINIO_ROOT_PASSWORD": creds[1],
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_REGION": self.settings.s3_region,
        }

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.address}/minio/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def provision(self) -> None:
        from watershed.lake import s3_client

        client = s3_client(self.settings)
        buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.settings.s3_bucket not in buckets:
            client.create_bucket(Bucket=self.settings.s3_bucket)

    def detail(self) -> str:
        return f"bucket {self.settings.s3_bucket}"
