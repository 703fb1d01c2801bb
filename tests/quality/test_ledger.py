"""The event ledger: zero unexplained events on a clean run, and the stage and hour where events
went missing when a test removes some. Counts come from generated data (with retries and
malformed events, so quarantine and deduplication have something to explain)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from quality.checkpoints import LOADERS, ledger_prepared
from quality.ledger import ownership, ownership_problems, ownership_summary, reconcile
from quality.ledger_io import arrival_counts, collect, mart_counts
from simulator.fakes.snowflake import FakeSnowflake
from tests.conftest import prod_on_fake_snowflake
from tests.quality.conftest import (
    START,
    as_bronze,
    generated,
    partition_time,
    run,
    with_lineage,
    write_partitions,
)

RATES = {"duplicate": 0.02, "malformed": 0.02}
DAY = START + timedelta(days=1)


def pipeline_output():  # type: ignore[no-untyped-def]
    """What each stage holds after a correct run: bronze rows with lineage, the quarantined
    rows with their reason, the retries, and the silver events (valid first copies)."""
    data = generated(**RATES)
    bronze = with_lineage(data, as_bronze(data.events))
    malformed = data.faults[data.faults["kind"] == "malformed"].set_index("position")["reason"]
    bronze["quarantine_reason"] = malformed.reindex(bronze.index)
    retries = data.faults.loc[data.faults["kind"] == "duplicate", "position"]
    bronze["is_retry"] = bronze.index.isin(retries)
    silver = bronze[bronze["quarantine_reason"].isna() & ~bronze["is_retry"]]
    return data, bronze, silver


def by_hour(stage: str, times: pd.Series, **extra: object) -> list[dict]:
    t = pd.to_datetime(times, utc=True)
    counts = t.groupby([t.dt.date, t.dt.hour]).size()
    return [{"stage": stage, "date": str(d), "hour": int(h), "count": int(n), **extra} for (d, h), n in counts.items()]


DOWNSTREAM = {
    "collector_accepted": ["kafka", "bronze_landed"],
    "kafka": ["bronze_landed"],
    "bronze": ["silver", "marts"],
    "silver": ["marts"],
}


def stage_counts(
    remove: dict[str, int] | None = None, hour: int = 13, lose: tuple[str, int] | None = None
) -> pd.DataFrame:
    """Every stage's counts per hour. `lose=(stage, n)`: n events of `hour` of DAY went missing
    at that stage, so every later stage of its chain lacks them too; `remove` takes events
    away from single stages only."""
    _, bronze, silver = pipeline_output()
    at = partition_time(bronze)
    rows = []
    for stage in ("collector_accepted", "kafka", "bronze_landed"):
        rows += by_hour(stage, bronze["received_at"])
    rows += by_hour("bronze", at)
    for reason, part in bronze[bronze["quarantine_reason"].notna()].groupby("quarantine_reason"):
        rows += by_hour("quarantined", at[part.index], reason=reason)
    rows += by_hour("duplicates", at[bronze["is_retry"]])
    rows += by_hour("silver", silver["occurred_at"])
    rows += by_hour("marts", silver["occurred_at"])
    frame = pd.DataFrame(rows)
    remove = dict(remove or {})
    if lose:
        for stage in [lose[0], *DOWNSTREAM.get(lose[0], [])]:
            remove[stage] = remove.get(stage, 0) + lose[1]
    for stage, n in remove.items():
        cell = (frame["stage"] == stage) & (frame["date"] == DAY.isoformat()) & (frame["hour"] == hour)
        assert frame.loc[cell, "count"].sum() > n
        frame.loc[cell, "count"] -= n
    return frame


def test_a_clean_run_reconciles_to_zero_unexplained_events() -> None:
    ledger = reconcile(stage_counts())
    assert ledger.reconciles and ledger.problems() == []
    assert ledger.steps == ["kafka", "bronze_landed", "silver", "marts"]
    assert ledger.not_measured == []
    data, bronze, silver = pipeline_output()
    event_clock = ledger.counts[ledger.counts["clock"] == "event"]
    assert event_clock["bronze"].sum() == len(bronze)
    assert event_clock["quarantined"].sum() == (data.faults["kind"] == "malformed").sum()
    assert event_clock["duplicates"].sum() == (data.faults["kind"] == "duplicate").sum()
    assert event_clock["silver"].sum() == len(silver)
    reasons = data.faults.loc[data.faults["kind"] == "malformed", "reason"].value_counts().sort_index()
    assert ledger.reasons.groupby("reason")["count"].sum().sort_index().to_dict() == reasons.to_dict()


@pytest.mark.parametrize("stage", ["kafka", "bronze_landed", "silver", "marts"])
def test_events_lost_at_a_stage_are_reported_at_that_stage_and_hour(stage: str) -> None:
    ledger = reconcile(stage_counts(lose=(stage, 5), hour=13))
    assert {s: ledger.unexplained(s) for s in ledger.steps} == {
        s: (5 if s == stage else 0) for s in ["kafka", "bronze_landed", "silver", "marts"]
    }
    broken = ledger.reconciliation[ledger.reconciliation["unexplained"] != 0]
    assert len(broken) == 1
    first = broken.iloc[0]
    assert (first["step"], first["date"], first["hour"], first["unexplained"]) == (stage, DAY.isoformat(), 13, 5)
    assert ledger.problems() == [f"{stage} ({first['previous']} -> {stage}): 5 events missing; at {DAY} 13:00 (+5)"]


def test_events_removed_from_bronze_show_at_silver_as_extra_events() -> None:
    """Bronze holding fewer rows than silver (say a partition overwritten after silver ran)
    shows as silver holding events bronze does not explain."""
    ledger = reconcile(stage_counts(remove={"bronze": 4}, hour=9))
    assert ledger.unexplained("silver") == 4
    row = ledger.reconciliation.query("step == 'silver' and unexplained != 0").iloc[0]
    assert (row["hour"], row["unexplained"]) == (9, -4)
    assert "4 events more than expected" in ledger.problems()[0]


def test_a_stage_not_measured_is_skipped_and_its_neighbours_compared() -> None:
    counts = stage_counts(lose=("bronze_landed", 2))
    ledger = reconcile(counts[counts["stage"] != "kafka"])
    assert ledger.not_measured == ["kafka"]
    step = ledger.reconciliation[ledger.reconciliation["step"] == "bronze_landed"]
    assert set(step["previous"]) == {"collector_accepted"}
    assert ledger.unexplained("bronze_landed") == 2


def test_the_ledger_checkpoint_fails_naming_the_step_and_its_hours(platform, qs) -> None:  # type: ignore[no-untyped-def]
    clean = run("ledger", DAY, ledger_prepared(reconcile(stage_counts())), platform, qs)
    assert clean.success and [e.name for e in clean.expectations] == [
        "reconciles:kafka",
        "reconciles:bronze_landed",
        "reconciles:silver",
        "reconciles:marts",
    ]
    outcome = run("ledger", DAY, ledger_prepared(reconcile(stage_counts(lose=("silver", 7), hour=20))), platform, qs)
    assert outcome.failed_names == ["ledger.reconciliation/reconciles:silver"]
    silver = outcome.failure("ledger.reconciliation/reconciles:silver")
    assert (silver.unexpected_count, silver.samples) == (1, [7])
    assert outcome.details["unexplained_by_step"] == {"kafka": 0, "bronze_landed": 0, "silver": 7, "marts": 0}
    assert f"silver (bronze -> silver): 7 events missing; at {DAY} 20:00 (+7)" in outcome.notes


# ---- the IO layer: counts collected from a lake on disk and a DuckDB warehouse ------------------


def write_lake(platform, bronze: pd.DataFrame, silver: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    lake = platform.lake.removeprefix("file://")
    from pathlib import Path

    root = Path(lake)
    stored = bronze.drop(columns=["quarantine_reason", "is_retry"]).assign(_topic=bronze["kafka_topic"])
    write_partitions(stored, root / "bronze", ["_topic", "dt", "hour"])
    quarantine = bronze[bronze["quarantine_reason"].notna()][
        ["quarantine_reason", "kafka_topic", "kafka_partition", "kafka_offset", "event_id", "dt", "hour"]
    ]
    write_partitions(quarantine, root / "quarantine" / "events", ["dt"])
    days = pd.to_datetime(silver["occurred_at"], utc=True).dt.date.rename("dt")
    write_partitions(silver.drop(columns=["dt", "hour"]).assign(dt=days), root / "silver" / "events", ["dt"])
    platform.duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(platform.duckdb_file))
    con.register("silver_src", silver[["event_id", "occurred_at"]])
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.fct_user_events as select * from silver_src")
    con.close()


def test_collected_counts_reconcile_and_find_events_deleted_from_silver(platform) -> None:  # type: ignore[no-untyped-def]
    _, bronze, silver = pipeline_output()
    write_lake(platform, bronze, silver)
    counts, notes = collect(platform, DAY, kafka=False)
    ledger = reconcile(counts)
    assert ledger.reconciles, ledger.problems()
    assert ledger.measured == ["bronze", "quarantined", "duplicates", "silver", "marts"]
    on_day = partition_time(bronze).dt.date == DAY
    assert ledger.counts["bronze"].sum() == on_day.sum()
    assert ledger.counts["duplicates"].sum() == (bronze["is_retry"] & on_day).sum()
    assert any("collector_accepted: not measured" in n for n in notes)

    occurred = pd.to_datetime(silver["occurred_at"], utc=True)
    gone = silver[(occurred.dt.date == DAY) & (occurred.dt.hour == 15)].index[:3]
    write_lake(platform, bronze, silver.drop(index=gone))  # marts rebuilt from what silver holds
    broken = reconcile(collect(platform, DAY, kafka=False)[0])
    assert {s: broken.unexplained(s) for s in broken.steps} == {"silver": 3, "marts": 0}
    row = broken.reconciliation.query("unexplained != 0").iloc[0]
    assert (row["step"], row["hour"], row["unexplained"]) == ("silver", 15, 3)


# ---- ownership: each valid event of D in exactly one day's silver, by event_id ------------------


def test_ownership_names_every_event_owned_nowhere_twice_or_without_bronze() -> None:
    valid = pd.Series(["a", "b", "b", "c", "d", None])  # "b" twice: a retry; None: no id (quarantined elsewhere)
    silver = pd.DataFrame(
        {
            "event_id": ["a", "b", "c", "c", "e"],
            "dt": ["2026-12-04", "2026-12-03", "2026-12-03", "2026-12-04", "2026-12-04"],
        }
    )
    owners = ownership(valid, silver)
    assert owners.to_dict(orient="records") == [
        {"event_id": "a", "in_bronze": True, "silver_copies": 1, "silver_days": "2026-12-04", "problem": None},
        {"event_id": "b", "in_bronze": True, "silver_copies": 1, "silver_days": "2026-12-03", "problem": None},
        {
            "event_id": "c",
            "in_bronze": True,
            "silver_copies": 2,
            "silver_days": "2026-12-03,2026-12-04",
            "problem": "c: in silver 2 times (dt=2026-12-03, dt=2026-12-04)",
        },
        {"event_id": "d", "in_bronze": True, "silver_copies": 0, "silver_days": "", "problem": "d: in no day's silver"},
        {
            "event_id": "e",
            "in_bronze": False,
            "silver_copies": 1,
            "silver_days": "2026-12-04",
            "problem": "e: in silver dt=2026-12-04 but not a valid event of bronze",
        },
    ]
    assert ownership_summary(owners) == {
        "valid_events": 4,
        "owned_once": 2,
        "by_day": {"2026-12-03": 1, "2026-12-04": 1},
        "in_no_silver": 1,
        "in_silver_more_than_once": 1,
        "not_in_bronze": 1,
    }
    assert ownership_problems(owners) == [
        "ownership: 1 valid events of bronze in no day's silver: d",
        "ownership: 1 valid events of bronze in silver more than once: c",
        "ownership: 1 silver events without a valid bronze row of the day: e",
    ]


def test_the_ledger_checkpoint_names_an_event_removed_from_silver_even_when_the_counts_balance(  # type: ignore[no-untyped-def]
    platform, qs
) -> None:
    _, bronze, silver = pipeline_output()
    write_lake(platform, bronze, silver)
    clean = run("ledger", DAY, LOADERS["ledger"](platform, qs, DAY), platform, qs)
    assert clean.success, clean.failed_names
    on_day = silver[pd.to_datetime(silver["occurred_at"], utc=True).dt.date == DAY]
    assert clean.details["ownership"] == {
        "valid_events": len(on_day),
        "owned_once": len(on_day),
        "by_day": {DAY.isoformat(): len(on_day)},
        "in_no_silver": 0,
        "in_silver_more_than_once": 0,
        "not_in_bronze": 0,
    }

    # one event gone from silver and another in it twice, in the same hour: every hourly count
    # still balances, and only the ownership check can tell
    hour = pd.to_datetime(on_day["occurred_at"], utc=True).dt.hour
    gone, kept = on_day[hour == 15].iloc[0], on_day[hour == 15].iloc[1]
    swapped = pd.concat([silver.drop(index=gone.name), silver.loc[[kept.name]]])
    write_lake(platform, bronze, swapped)
    outcome = run("ledger", DAY, LOADERS["ledger"](platform, qs, DAY), platform, qs)
    assert outcome.failed_names == ["ledger.ownership/owned_once"]
    failure = outcome.failure("ledger.ownership/owned_once")
    assert failure.unexpected_count == 2
    assert sorted(failure.samples) == sorted(
        [f"{gone.event_id}: in no day's silver", f"{kept.event_id}: in silver 2 times (dt={DAY})"]
    )
    assert f"ownership: 1 valid events of bronze in no day's silver: {gone.event_id}" in outcome.notes
    assert outcome.details["unexplained_by_step"]["silver"] == 0


def test_kafka_and_landed_counts_use_the_same_offset_buckets() -> None:
    _, bronze, _ = pipeline_output()
    start = int(pd.Timestamp(DAY, tz="UTC").timestamp() * 1000)
    boundaries = [start + h * 3_600_000 for h in range(25)]
    offsets = {}
    for topic, rows in bronze.groupby("kafka_topic"):
        rows = rows.sort_values("kafka_offset")
        received = (rows["received_at"].astype("int64") // 1000).to_numpy()  # ms
        offs = rows["kafka_offset"].to_numpy()
        # Kafka's offsets_for_times: the first offset whose timestamp is at or after the
        # boundary, the end offset when there is none
        found = np.searchsorted(received, boundaries, side="left")
        offsets[(topic, 0)] = [int(offs[i]) if i < len(offs) else int(offs[-1]) + 1 for i in found]
    landed = bronze[["kafka_topic", "kafka_partition", "kafka_offset"]]
    counts = pd.DataFrame(arrival_counts(offsets, landed, DAY))
    on_day = bronze["received_at"].dt.date == DAY
    assert counts.groupby("stage")["count"].sum().to_dict() == {"kafka": on_day.sum(), "bronze_landed": on_day.sum()}
    assert reconcile(counts).reconciles

    lost = bronze[on_day & (bronze["received_at"].dt.hour == 6)].index[:2]  # landing lost two records
    ledger = reconcile(pd.DataFrame(arrival_counts(offsets, landed.drop(index=lost), DAY)))
    row = ledger.reconciliation.query("unexplained != 0").iloc[0]
    assert (row["step"], row["clock"], row["hour"], row["unexplained"]) == ("bronze_landed", "arrival", 6, 2)


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ledger stages: gold"):
        reconcile(pd.DataFrame([{"stage": "gold", "date": "2025-01-06", "hour": 0, "count": 1}]))


def test_collect_on_an_empty_lake_notes_what_is_missing(platform) -> None:  # type: ignore[no-untyped-def]
    counts, notes = collect(platform, date(2025, 1, 6), kafka=False)
    assert "bronze: no partition dt=2025-01-06" in notes and "silver: no partition dt=2025-01-06" in notes
    assert reconcile(counts).reconciles  # nothing in, nothing out


def test_kafka_offsets_on_the_real_broker_bucket_records_by_hour(stack_settings) -> None:  # type: ignore[no-untyped-def]
    """Records with known timestamps in a topic of the test's own: the ledger's Kafka stage
    counts them per hour, and a record landing lost shows at bronze_landed in its hour."""
    import uuid

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from quality.ledger_io import kafka_offsets

    topic = f"quality-ledger-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack_settings.kafka_bootstrap})
    # timestamps of a past day: keep them whatever the broker's clock says
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1, config={"retention.ms": "-1"})])[
        topic
    ].result(timeout=30)
    start = int(pd.Timestamp(DAY, tz="UTC").timestamp() * 1000)
    sent = {-1: 2, 0: 3, 5: 4, 23: 5, 24: 1}  # hour of DAY (-1: the day before, 24: the day after) -> records
    producer = Producer({"bootstrap.servers": stack_settings.kafka_bootstrap, "acks": "all"})
    for hour, n in sent.items():
        for i in range(n):
            producer.produce(topic, value=b"{}", partition=i % 2, timestamp=start + hour * 3_600_000 + i * 1000)
    assert producer.flush(30) == 0

    offsets = kafka_offsets(stack_settings, DAY, topics=(topic,))
    assert sorted(offsets) == [(topic, 0), (topic, 1)]
    landed = pd.DataFrame(
        [(topic, p, o) for (_, p), bounds in offsets.items() for o in range(bounds[0] - 1, bounds[-1] + 1)],
        columns=["kafka_topic", "kafka_partition", "kafka_offset"],
    )
    landed = landed[landed["kafka_offset"] >= 0]
    counts = pd.DataFrame(arrival_counts(offsets, landed, DAY))
    kafka = counts[(counts["stage"] == "kafka") & (counts["count"] > 0)].set_index("hour")["count"].to_dict()
    assert kafka == {0: 3, 5: 4, 23: 5}
    assert reconcile(counts).reconciles

    lost = landed.index[(landed["kafka_partition"] == 0) & (landed["kafka_offset"] == offsets[(topic, 0)][5])]
    row = reconcile(pd.DataFrame(arrival_counts(offsets, landed.drop(index=lost), DAY))).reconciliation
    assert row.query("unexplained != 0")[["step", "hour", "unexplained"]].values.tolist() == [["bronze_landed", 5, 1]]


def test_on_snowflake_the_marts_counts_per_hour_are_the_same(platform, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The ledger's marts stage in the prod profile: read from Snowflake (its wire fake over the
    same marts), the hourly counts equal the local warehouse's."""
    _, bronze, silver = pipeline_output()
    write_lake(platform, bronze, silver)
    local = mart_counts(platform, DAY, "fct_user_events", "occurred_at", "marts")
    snowflake = FakeSnowflake(platform.duckdb_file)
    try:
        remote = mart_counts(prod_on_fake_snowflake(tmp_path / "prod", snowflake.port), DAY,
                             "fct_user_events", "occurred_at", "marts")  # fmt: skip
        missing = mart_counts(prod_on_fake_snowflake(tmp_path / "prod", snowflake.port), DAY,
                              "fct_sessions_gone", "occurred_at", "marts")  # fmt: skip
    finally:
        snowflake.stop()
    assert local is not None and sum(r["count"] for r in local) > 0
    assert remote == local
    assert missing is None  # a table the warehouse lacks is "not measured", as locally
