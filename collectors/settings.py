"""The collector's settings: ``WATERSHED_COLLECTOR_*`` variables (Kafka, the PII key and the
environment come from the platform's :class:`watershed.settings.Settings`).

Write keys are given as ``source=key`` pairs, comma separated::

    WATERSHED_COLLECTOR_WRITE_KEYS="web_analytics=wk_3f9...,transaction_data=wk_81c..."

A source may have several keys (to rotate one without downtime). Keys are kept only as SHA-256
digests: the raw values do not stay in memory once the settings are read. With
``WATERSHED_ENV=local`` and no keys given, the development keys of :data:`DEV_WRITE_KEYS` are
used; with ``WATERSHED_ENV=prod`` keys are required, and development keys, placeholders and keys
shorter than :data:`MIN_PROD_KEY_LENGTH` characters are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from watershed.contract import Source
from watershed.errors import ConfigError

# Development only: accepted with WATERSHED_ENV=local, refused with WATERSHED_ENV=prod.
DEV_WRITE_KEYS: dict[str, str] = {source.value: f"dev-{source.value.replace('_', '-')}-key" for source in Source}
MIN_PROD_KEY_LENGTH = 24
_PLACEHOLDERS = frozenset({"changeme", "change-me", "change_me", "secret", "password", "xxx", "todo", "placeholder"})


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class WriteKey:
    """A write key as stored: its source and the SHA-256 digest of the key."""

    source: Source
    digest: bytes

    def __repr__(self) -> str:
        return f"WriteKey(source={self.source.value!r}, sha256={self.digest.hex()[:12]}...)"


class CollectorSettings(BaseSettings):
    """Typed collector configuration; see the module docstring for the write keys."""

    model_config = SettingsConfigDict(
        env_prefix="WATERSHED_COLLECTOR_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["local", "prod"] = Field("local", validation_alias=AliasChoices("WATERSHED_ENV", "env"))

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = False

    write_keys: Annotated[tuple[WriteKey, ...], NoDecode] = ()

    # Token bucket per write key, counted in events (a batch of 100 takes 100 tokens). With
    # several workers each process gets rate / workers and burst / workers.
    rate_limit: float = Field(20_000.0, ge=0, description="events per second per write key; 0 disables the limit")
    rate_limit_burst: int = Field(40_000, ge=1)

    max_event_bytes: int = Field(32 * 1024, ge=1024)
    max_batch_bytes: int = Field(500 * 1024, ge=1024)
    max_batch_events: int = Field(500, ge=1)

    # How long a request waits for Kafka's acknowledgement before answering 503.
    kafka_timeout: float = Field(5.0, gt=0, le=300)
    kafka_linger_ms: float = Field(2.0, ge=0, le=1000)
    # Retry-After of a 503 (seconds).
    unavailable_retry_after: int = Field(2, ge=1, le=3600)
    # /ready asks Kafka at most this often; answers in between are cached.
    ready_cache_seconds: float = Field(1.0, ge=0)
    ready_timeout: float = Field(2.0, gt=0)

    @field_validator("write_keys", mode="before")
    @classmethod
    def _parse_write_keys(cls, value: Any, info: ValidationInfo) -> Any:
        """`source=key` pairs (a string, a list of pairs or a source->key mapping) -> digests.
        Prod refuses weak keys here, the only place that sees the raw values."""
        if isinstance(value, tuple) and all(isinstance(v, WriteKey) for v in value):
            return value
        if isinstance(value, str):
            pairs = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, dict):
            pairs = [f"{source}={key}" for source, key in value.items()]
        else:
            pairs = list(value)
        keys = []
        sources = ", ".join(s.value for s in Source)
        for pair in pairs:
            name, sep, key = pair.partition("=")
            name, key = name.strip(), key.strip()
            if not sep or not key:
                raise ValueError(f"expected source=key pairs separated by commas (source one of {sources})")
            try:
                source = Source(name)
            except ValueError:
                raise ValueError(f"unknown source {name!r} (expected one of {sources})") from None
            if info.data.get("env") == "prod":
                if key in DEV_WRITE_KEYS.values() or key.lower() in _PLACEHOLDERS:
                    raise ValueError(
                        f"the write key of {name} is a development or placeholder value; "
                        "set a real key for WATERSHED_ENV=prod"
                    )
                if len(key) < MIN_PROD_KEY_LENGTH:
                    raise ValueError(f"the write key of {name} is shorter than {MIN_PROD_KEY_LENGTH} characters")
            keys.append(WriteKey(source, digest(key)))
        return tuple(keys)

    @model_validator(mode="after")
    def _keys_for_environment(self) -> CollectorSettings:
        if not self.write_keys:
            if self.env == "prod":
                raise ValueError(
                    "WATERSHED_COLLECTOR_WRITE_KEYS is required when WATERSHED_ENV=prod (source=key pairs)"
                )
            dev = tuple(WriteKey(Source(s), digest(k)) for s, k in DEV_WRITE_KEYS.items())
            object.__setattr__(self, "write_keys", dev)
        if self.max_batch_bytes < self.max_event_bytes:
            raise ValueError("WATERSHED_COLLECTOR_MAX_BATCH_BYTES must be at least WATERSHED_COLLECTOR_MAX_EVENT_BYTES")
        if self.rate_limit and self.rate_limit_burst < self.max_batch_events * self.workers:
            raise ValueError(
                "WATERSHED_COLLECTOR_RATE_LIMIT_BURST must hold a full batch in every worker "
                "(at least WATERSHED_COLLECTOR_MAX_BATCH_EVENTS * WATERSHED_COLLECTOR_WORKERS)"
            )
        return self

    @property
    def uses_dev_keys(self) -> bool:
        dev = {digest(k) for k in DEV_WRITE_KEYS.values()}
        return any(k.digest in dev for k in self.write_keys)

    def per_worker(self) -> tuple[float, float]:
        """(rate, burst) of one worker process's token buckets."""
        return self.rate_limit / self.workers, math.floor(self.rate_limit_burst / self.workers)

    def find_key(self, key: str) -> WriteKey | None:
        """The stored write key matching a presented key, comparing digests in constant time
        (every stored digest is compared, whatever matches)."""
        presented = digest(key)
        found = None
        for write_key in self.write_keys:
            if hmac.compare_digest(write_key.digest, presented):
                found = write_key
        return found

    def describe(self) -> dict[str, Any]:
        """The settings without secrets (key digests are not shown either)."""
        data = self.model_dump(exclude={"write_keys"})
        data["write_key_sources"] = sorted({k.source.value for k in self.write_keys})
        data["dev_write_keys"] = self.uses_dev_keys
        return data


def load_collector_settings(**overrides: Any) -> CollectorSettings:
    """Read the collector's settings; a mistake raises :class:`ConfigError` with one line."""
    try:
        return CollectorSettings(**overrides)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        loc = [str(p) for p in first.get("loc", ()) if p != "__root__"]
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        raise ConfigError(f"WATERSHED_COLLECTOR_{loc[0].upper()}: {message}" if loc else message) from None
