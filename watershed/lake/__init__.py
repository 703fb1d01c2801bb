"""Thin IO for the lake: where a dataset lives and how to reach the object store.

Transforms never build paths themselves; they receive DataFrames. Paths come from here so the
same job runs on a local folder (``file://``) and on S3 (``s3a://``) by changing one setting.
"""

from __future__ import annotations

from typing import Any

from watershed.settings import Settings


def path(settings: Settings, *parts: str) -> str:
    """A URI under the lake root: ``path(s, "bronze", "user-events")``."""
    return "/".join([settings.lake, *[p.strip("/") for p in parts]])


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (the local MinIO, or AWS in prod)."""
    import boto3
    from botocore.config import Config

    creds = settings.s3_credentials
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=creds[0] if creds else None,
        aws_secret_access_key=creds[1] if creds else None,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
