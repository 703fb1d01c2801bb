"""A Kafka broker for a benchmark: the one given with ``--bootstrap``, else a dedicated
single-node broker (the local stack's Kafka) in a temporary folder on free ports, stopped after."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.process import free_port


@contextmanager
def broker(bootstrap: str | None = None, topics: dict[str, int] | None = None) -> Iterator[str]:
    """Yield a bootstrap address with `topics` (name -> partitions) present."""
    if bootstrap:
        _create_topics(bootstrap, topics or {})
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="watershed-bench-") as state:
        settings = Settings(
            env="local",
            state_dir=state,
            kafka_port=free_port(39092),
            kafka_controller_port=free_port(39093),
            kafka_metrics_port=free_port(39404),
            kafka_topics={**Settings().kafka_topics, **(topics or {})},
            cache_dir=os.environ.get("WATERSHED_CACHE_DIR") or Settings().cache_dir,
        )
        stack = Stack(settings, ["kafka"])
        stack.up(echo=lambda line: print(f"[bench] {line}"))
        try:
            yield settings.kafka_bootstrap
        finally:
            stack.down(echo=lambda line: print(f"[bench] {line}"))


def _create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=10).topics
    new = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items() if name not in existing]
    for future in (admin.create_topics(new) if new else {}).values():
        future.result(timeout=30)
