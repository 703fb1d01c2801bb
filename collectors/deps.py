"""The collector's request dependencies: its per-app state (:class:`Collector`), the sink, the
settings and the authenticated sender, each an ``Annotated[..., Depends(...)]`` alias so a test
can swap one with ``app.dependency_overrides`` (e.g. ``dependency_overrides[get_sink]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from collectors.auth import TokenBucket, presented_key
from collectors.errors import CollectorError
from collectors.events import EventProcessor
from collectors.metrics import Metrics
from collectors.settings import CollectorSettings, WriteKey
from collectors.sink import Sink
from collectors.version import COLLECTOR_VERSION
from watershed.contract import Source
from watershed.pii import Pseudonymiser

_CHALLENGE = 'Bearer realm="watershed-collector", Basic realm="watershed-collector"'


@dataclass
class Client:
    """The authenticated sender of a request."""

    source: Source
    bucket: TokenBucket


class Collector:
    """Everything a request needs; one per app (per worker process), kept in ``app.state.collector``."""

    def __init__(self, settings: CollectorSettings, sink: Sink, pseudonymiser: Pseudonymiser, metrics: Metrics) -> None:
        self.settings, self.sink, self.metrics = settings, sink, metrics
        self.processor = EventProcessor(pseudonymiser, COLLECTOR_VERSION)
        rate, burst = settings.per_worker()
        self.rate = rate
        self.buckets: dict[WriteKey, TokenBucket] = {key: TokenBucket(rate, burst) for key in settings.write_keys}

    def client(self, key: str) -> Client | None:
        write_key = self.settings.find_key(key)
        return None if write_key is None else Client(write_key.source, self.buckets[write_key])


async def get_collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


CollectorDep = Annotated[Collector, Depends(get_collector)]


async def get_sink(collector: CollectorDep) -> Sink:
    return collector.sink


async def get_settings(collector: CollectorDep) -> CollectorSettings:
    return collector.settings


async def authenticate(request: Request, collector: CollectorDep) -> Client:
    """The sender of the request, from its write key (401 without a known one)."""
    header = request.headers.get("authorization")
    if not header:
        raise CollectorError(
            401,
            "unauthorized",
            "a write key is required: send Authorization: Bearer <key>, or Basic with the key as user name",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    key = presented_key(header)
    client = None if key is None else collector.client(key)
    if client is None:
        message = "unknown write key" if key is not None else "malformed Authorization header: use Bearer or Basic"
        raise CollectorError(401, "unauthorized", message, headers={"WWW-Authenticate": _CHALLENGE})
    return client


SinkDep = Annotated[Sink, Depends(get_sink)]
SettingsDep = Annotated[CollectorSettings, Depends(get_settings)]
ClientDep = Annotated[Client, Depends(authenticate)]
