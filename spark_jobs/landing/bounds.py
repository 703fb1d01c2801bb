"""Landing bound to a data interval: has bronze already got every record Kafka received before
the interval's end?

The landing query is one checkpointed stream over all of Kafka, not a job per day. The run of
``ecommerce_daily`` for D calls ``watershed land --until <end of D> --run-type <Airflow's>``:

* bronze *holds D's interval* when, in every topic partition, the checkpoint's last committed
  batch reaches the first offset Kafka received at or after `until` (``offsets_for_times``);
* a scheduled or manual run lands what is available, exactly once, as ``watershed land``
  always does. That includes records received after `until` (late events of D, replayed days,
  events of later days); each goes to the partition of its own event time, which the run of
  that day reads;
* a backfill run that finds bronze already there lands nothing: re-processing an old day reads
  that day's bronze partitions as they are, and does not pull in whatever Kafka holds now
  (which the next scheduled run lands).

Spark's checkpoint format (``offsets/<batch>``: a version line, a metadata line, then one JSON
line per source, ``{"topic": {"partition": next offset}}``; ``commits/<batch>`` once the batch
is committed) is read as Spark 3 and 4 write it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from watershed.settings import Settings

Offsets = dict[tuple[str, int], int]


class TextFiles(Protocol):
    """What reading a checkpoint needs: the Hadoop filesystem (watershed.lake.hadoop.LakeFS) in
    Spark jobs, pyarrow's in the exporter."""

    def files(self, uri: str) -> list[str]: ...

    def read_text(self, uri: str) -> str | None: ...


def parse_offsets(text: str) -> Offsets:
    """One ``offsets/<batch>`` file -> the next offset to read of every (topic, partition)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("v"):
        raise ValueError("not a Spark offset log entry (no version line)")
    found: Offsets = {}
    for line in lines[2:]:
        source = json.loads(line)
        for topic, partitions in source.items():
            for partition, offset in partitions.items():
                found[(topic, int(partition))] = int(offset)
    return found


def last_committed(batch_files: Iterable[str]) -> int | None:
    """The highest batch id among the names of ``commits/`` (hidden and temporary files skipped)."""
    ids = [int(name.rsplit("/", 1)[-1]) for name in batch_files if name.rsplit("/", 1)[-1].isdigit()]
    return max(ids) if ids else None


def behind(committed: Offsets, wanted: Offsets) -> Offsets:
    """The partitions where bronze has not reached `wanted`, with the offset it has reached (0 for
    a partition the checkpoint has never seen)."""
    return {tp: committed.get(tp, 0) for tp, offset in sorted(wanted.items()) if committed.get(tp, 0) < offset}


def committed_offsets(fs: TextFiles, checkpoint: str) -> Offsets | None:
    """The offsets the checkpoint's last committed batch reached, or None without a commit."""
    batch = last_committed(fs.files(f"{checkpoint}/commits"))
    if batch is None:
        return None
    text = fs.read_text(f"{checkpoint}/offsets/{batch}")
    if text is None:
        raise RuntimeError(f"the landing checkpoint {checkpoint} has commits/{batch} but no offsets/{batch}")
    return parse_offsets(text)


def offsets_at(settings: Settings, topics: Iterable[str], until: datetime) -> Offsets:
    """Per partition of `topics`, the first offset whose record Kafka received at or after
    `until` (the end of the log when there is none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "watershed-landing-bounds",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        parts = [(t, p) for t in topics if t in metadata.topics for p in sorted(metadata.topics[t].partitions)]
        if not parts:
            return {}
        at = int(until.timestamp() * 1000)
        found = consumer.offsets_for_times([TopicPartition(t, p, at) for t, p in parts], timeout=10)
        out: Offsets = {}
        for tp in found:
            if tp.error is not None:
                raise RuntimeError(f"offsets_for_times {tp.topic}[{tp.partition}]: {tp.error}")
            end = tp.offset
            if end < 0:  # nothing at or after `until`: everything in the log came before it
                end = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
            out[(tp.topic, tp.partition)] = end
        return out
    finally:
        consumer.close()
