"""Generated data for the quality tests, and the adapters that shape it like each layer.

The generator's events are what reaches the collector, with the contract's columns; bronze
rows carry the same columns, and where a field had the wrong JSON type the landing job leaves
the column null and sets ``parse_error`` (the generator marks those rows with ``raw_payload``).
The ground truth (``faults``, keyed by ``position``, the row in arrival order) says which rows
are faulty and why; every expected count in these tests comes from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quality.settings import QualitySettings
from simulator import FaultRates, GeneratorConfig, simulate
from watershed.contract import EVENT_TYPES, MAX_CLOCK_SKEW, MAX_EVENT_AGE, topic_for
from watershed.contract.fields import EARLIEST_OCCURRED_AT
from watershed.settings import Settings

SEED = 7
START = date(2025, 1, 6)
DAYS = 2
EVENTS = 3_000


@dataclass(frozen=True)
class Generated:
    events: pd.DataFrame  # arrival order, generator columns (raw_payload included)
    intended_types: np.ndarray  # per row: the type the generator meant (routes rows that lost it)
    faults: pd.DataFrame  # truth: position, event_id, kind, reason
    sessions: pd.DataFrame  # truth sessions
    funnel_daily: pd.DataFrame
    campaign_totals: pd.DataFrame
    ad_rows: pd.DataFrame
    table: pa.Table  # the events as the generator made them (exact types, for the wire format)

    def fault_rows(self, kind: str) -> pd.DataFrame:
        """The truth's rows of one kind, joined to the event row they describe."""
        rows = self.faults[self.faults["kind"] == kind]
        return rows.join(self.events, on="position", rsuffix="_row")


@cache
def generated(**rates: float) -> Generated:
    """A small data set (2 days, ~3,000 events) with the given fault rates; cached per rates."""
    config = GeneratorConfig(seed=SEED, start_date=START, days=DAYS, events=EVENTS, faults=FaultRates(**rates))
    sim = simulate(config)
    truth = sim.truth
    table = sim.events.table()
    return Generated(
        events=table.to_pandas(),
        intended_types=np.asarray(sim.events.event_types),
        faults=truth.faults.to_pandas(),
        sessions=truth.sessions.to_pandas(),
        funnel_daily=truth.funnel_daily.to_pandas(),
        campaign_totals=truth.campaign_totals.to_pandas(),
        ad_rows=sim.ad_platform_rows.to_pandas(),
        table=table,
    )


def as_bronze(events: pd.DataFrame) -> pd.DataFrame:
    """Generator rows as bronze rows: ``parse_error`` where a field had the wrong type."""
    out = events.drop(columns="raw_payload")
    out["parse_error"] = np.where(events["raw_payload"].notna(), "malformed_field", None)
    return out


def as_silver_events(data: Generated, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Valid event rows with silver's columns: user_key, is_bot and the truth session each
    session event belongs to (the session of its user key that spans its occurred_at)."""
    from watershed.contract import SESSION_EVENT_TYPES, is_bot_user_agent

    out = (data.events if events is None else events).drop(columns="raw_payload").copy()
    out["user_key"] = out["user_id"].where(out["user_id"].notna(), out["anonymous_id"])
    agents = out["user_agent"].astype(object)
    out["is_bot"] = agents.map(lambda a: is_bot_user_agent(a) if isinstance(a, str) else False)
    sessions = data.sessions[["user_key", "session_id", "started_at", "ended_at"]].sort_values("started_at")
    visits = out[out["event_type"].astype(object).isin(SESSION_EVENT_TYPES)].reset_index()
    placed = pd.merge_asof(
        visits.sort_values("occurred_at"),
        sessions,
        left_on="occurred_at",
        right_on="started_at",
        by="user_key",
        direction="backward",
    )
    placed = placed[placed["occurred_at"] <= placed["ended_at"]]
    out["session_id"] = pd.Series(placed["session_id"].to_numpy(), index=placed["index"].to_numpy())
    out["session_start"] = pd.Series(placed["started_at"].to_numpy(), index=placed["index"].to_numpy())
    return out


def as_silver_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Truth sessions with silver's column names."""
    out = sessions.rename(columns={"started_at": "session_start", "ended_at": "session_end"}).copy()
    out["duration_seconds"] = (out["session_end"] - out["session_start"]).dt.total_seconds()
    return out


# ---- a lake on disk ---------------------------------------------------------------------------


def partition_time(bronze: pd.DataFrame) -> pd.Series:
    """The bronze rule: occurred_at when believable, else the time received."""
    occurred, received = bronze["occurred_at"], bronze["received_at"]
    believable = (
        occurred.notna()
        & (occurred >= EARLIEST_OCCURRED_AT)
        & (occurred >= received - MAX_EVENT_AGE)
        & (occurred <= received + MAX_CLOCK_SKEW)
    )
    return occurred.where(believable, received)


def with_lineage(data: Generated, bronze: pd.DataFrame) -> pd.DataFrame:
    """Bronze rows plus Kafka lineage (topic of the intended type, one partition, offsets in
    arrival order), the partition dt/hour and is_late."""
    out = bronze.copy()
    out["kafka_topic"] = [topic_for(EVENT_TYPES[code]) for code in data.intended_types]
    out["kafka_partition"] = 0
    out["kafka_offset"] = out.groupby("kafka_topic").cumcount()
    out["kafka_timestamp"] = out["received_at"]
    at = partition_time(out)
    out["dt"] = at.dt.date
    out["hour"] = at.dt.hour
    out["is_late"] = False
    return out


def write_partitions(frame: pd.DataFrame, root: Path, folders: list[str], drop: tuple[str, ...] = ()) -> list[Path]:
    """One Parquet file per value of `folders`, as the jobs lay them out: ``_topic`` is a plain
    folder name (landing keeps kafka_topic in the files), the others ``key=value``."""
    written = []
    for values, rows in frame.groupby(folders, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        parts = []
        for name, value in zip(folders, values, strict=True):
            if name == "_topic":
                parts.append(str(value))
            elif name == "hour":
                parts.append(f"hour={int(value):02d}")
            else:
                parts.append(f"{name}={value}")
        path = root.joinpath(*parts) / "part-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(rows.drop(columns=[*folders, *drop], errors="ignore"), preserve_index=False)
        pq.write_table(table, path)
        written.append(path)
    return written


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


@pytest.fixture(scope="session")
def quality_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One quality folder (GX project, results, metrics) for the session: GX projects are
    created once."""
    return tmp_path_factory.mktemp("quality")


@pytest.fixture
def platform(tmp_path: Path) -> Settings:
    """Platform settings with a lake and a warehouse of the test's own."""
    return Settings(state_dir=tmp_path / "state", lake_uri=str(tmp_path / "lake"))


@pytest.fixture
def qs(quality_root: Path) -> QualitySettings:
    return QualitySettings(dir=quality_root, webhook_url=None)


def run(checkpoint: str, day: date | None, prepared: Any, platform: Settings, qs: QualitySettings, **kw: Any) -> Any:
    from quality.runner import execute

    return execute(checkpoint, day, prepared, settings=platform, quality_settings=qs, data_docs=False, **kw)


def next_day(day: date) -> date:
    return day + timedelta(days=1)
