"""The event ledger: per date and hour, how many events each stage holds, and whether the stages
reconcile. Pure functions of per-stage counts; :mod:`quality.ledger_io` collects the counts.

Stages and the clock that buckets them:

=====================  =========  ============================================================
stage                  clock      what is counted
=====================  =========  ============================================================
``collector_accepted`` arrival    events the collector acknowledged (2xx)
``kafka``              arrival    records in the event topics
``bronze_landed``      arrival    bronze rows, by the Kafka record they came from
``bronze``             event      bronze rows, by their ``dt=/hour=`` partition
``quarantined``        event      rows the lake quarantined, with the reason
``duplicates``         event      valid bronze rows that repeat an event_id (retries)
``silver``             event      silver events, by the hour they occurred
``marts``              event      events counted in the warehouse
=====================  =========  ============================================================

The *arrival* clock is the hour a record reached Kafka (for the collector: the hour it answered);
the *event* clock is the lake's partition hour (occurred_at for valid rows). Each clock has its
own chain, and every step of a chain must balance exactly:

* ``kafka = collector_accepted``; ``bronze_landed = kafka``;
* ``silver = bronze - quarantined - duplicates``; ``marts = silver``.

``unexplained = expected - actual``: positive means events went missing at that stage,
negative means the stage holds events nobody sent it (for instance a row landed twice). A stage
that was not measured is left out and its chain compares the stages on either side of it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Clock = Literal["arrival", "event"]

STAGES: dict[str, Clock] = {
    "collector_accepted": "arrival",
    "kafka": "arrival",
    "bronze_landed": "arrival",
    "bronze": "event",
    "quarantined": "event",
    "duplicates": "event",
    "silver": "event",
    "marts": "event",
}
# The chains, in flow order; quarantined and duplicates explain the drop from bronze to silver.
CHAINS: dict[Clock, tuple[str, ...]] = {
    "arrival": ("collector_accepted", "kafka", "bronze_landed"),
    "event": ("bronze", "silver", "marts"),
}
EXPLANATIONS: dict[str, tuple[str, ...]] = {"silver": ("quarantined", "duplicates")}
COUNT_COLUMNS = ("stage", "date", "hour", "count")


@dataclass
class Ledger:
    """The counts (wide, one row per clock/date/hour), the reconciliation of every measured
    step, the quarantine reasons and the stages that were not measured."""

    counts: pd.DataFrame
    reconciliation: pd.DataFrame
    reasons: pd.DataFrame
    measured: list[str]
    not_measured: list[str] = field(default_factory=list)

    @property
    def steps(self) -> list[str]:
        return list(dict.fromkeys(self.reconciliation["step"]))

    def unexplained(self, step: str | None = None) -> int:
        rows = self.reconciliation if step is None else self.reconciliation[self.reconciliation["step"] == step]
        return int(rows["unexplained"].abs().sum())

    @property
    def reconciles(self) -> bool:
        return self.unexplained() == 0

    def problems(self) -> list[str]:
        """One line per step that does not balance, with the hours where it does not."""
        lines = []
        for step in self.steps:
            rows = self.reconciliation[
                (self.reconciliation["step"] == step) & (self.reconciliation["unexplained"] != 0)
            ]
            if rows.empty:
                continue
            missing = int(rows["unexplained"].clip(lower=0).sum())
            extra = int((-rows["unexplained"]).clip(lower=0).sum())
            what = []
            if missing:
                what.append(f"{missing} events missing")
            if extra:
                what.append(f"{extra} events more than expected")
            hours = ", ".join(
                f"{r.date} {int(r.hour):02d}:00 ({int(r.unexplained):+d})" for r in rows.head(6).itertuples()
            )
            more = f" and {len(rows) - 6} more hours" if len(rows) > 6 else ""
            lines.append(f"{step} ({rows['previous'].iloc[0]} -> {step}): {' and '.join(what)}; at {hours}{more}")
        return lines


def _empty_counts() -> pd.DataFrame:
    return pd.DataFrame({"stage": [], "date": [], "hour": [], "count": [], "reason": []})


def reconcile(counts: pd.DataFrame) -> Ledger:
    """Per-stage counts (columns stage, date, hour, count and, for ``quarantined``, reason) ->
    the :class:`Ledger`. Stages absent from `counts` are not measured; a measured stage with
    no row for an hour counts 0 there."""
    counts = counts.copy() if len(counts) else _empty_counts()
    unknown = sorted(set(counts["stage"]) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown ledger stages: {', '.join(unknown)} (expected {', '.join(STAGES)})")
    if "reason" not in counts:
        counts["reason"] = None
    counts["date"] = counts["date"].astype(str)
    counts["hour"] = counts["hour"].astype(int)
    counts["count"] = counts["count"].astype("int64")
    measured = [s for s in STAGES if s in set(counts["stage"])]
    counts["clock"] = counts["stage"].map(STAGES)

    wide = (
        counts.groupby(["clock", "date", "hour", "stage"])["count"].sum().unstack("stage", fill_value=0).reset_index()
    )
    for stage in measured:
        if stage not in wide:
            wide[stage] = 0
    wide = wide[["clock", "date", "hour", *measured]].sort_values(["clock", "date", "hour"], ignore_index=True)

    rows = []
    for clock, chain in CHAINS.items():
        present = [s for s in chain if s in measured]
        hours = wide[wide["clock"] == clock]
        for previous, stage in itertools.pairwise(present):
            explained_by = [e for e in EXPLANATIONS.get(stage, ()) if e in measured]
            for r in hours.itertuples(index=False):
                values = r._asdict()
                explained = sum(int(values[e]) for e in explained_by)
                expected = int(values[previous]) - explained
                actual = int(values[stage])
                rows.append(
                    {
                        "step": stage,
                        "previous": previous,
                        "clock": clock,
                        "date": values["date"],
                        "hour": int(values["hour"]),
                        "previous_count": int(values[previous]),
                        "explained": explained,
                        "expected": expected,
                        "actual": actual,
                        "unexplained": expected - actual,
                    }
                )
    columns = ["step", "previous", "clock", "date", "hour", "previous_count", "explained", "expected", "actual"]
    reconciliation = pd.DataFrame(rows, columns=[*columns, "unexplained"])
    quarantine = counts[(counts["stage"] == "quarantined") & (counts["count"] > 0)]
    reasons = (
        quarantine.assign(reason=quarantine["reason"].fillna("unknown"))
        .groupby(["date", "hour", "reason"], as_index=False)["count"]
        .sum()
        .sort_values(["date", "hour", "reason"], ignore_index=True)
    )
    return Ledger(
        counts=wide,
        reconciliation=reconciliation,
        reasons=reasons,
        measured=measured,
        not_measured=[s for s in STAGES if s not in measured],
    )


def counts_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build the input of :func:`reconcile` from dicts (stage, date, hour, count[, reason])."""
    if not rows:
        return _empty_counts()
    frame = pd.DataFrame(rows)
    if "reason" not in frame:
        frame["reason"] = None
    return frame[["stage", "date", "hour", "count", "reason"]]


# ---- ownership: every valid event of day D in exactly one day's silver ---------------------------

OWNERSHIP_COLUMNS = ("event_id", "in_bronze", "silver_copies", "silver_days", "problem")


def ownership(valid_ids: pd.Series, silver: pd.DataFrame) -> pd.DataFrame:
    """Which day's silver owns each valid event of bronze dt=D.

    `valid_ids`: the event_id of every valid bronze row of dt=D (retries repeat an id);
    `silver`: event_id and dt (the partition) of every silver event that occurred on D, from
    every partition that may own one (dt=D-1 and dt=D). One row per distinct event_id of
    either, with ``problem`` set when the event is in no day's silver, in silver more than once
    (in one day or in two), or in silver without a valid bronze row of D behind it."""
    ids = pd.Index(valid_ids.dropna().unique(), name="event_id")
    copies = silver.groupby("event_id")["dt"].agg(["size", lambda days: ",".join(sorted(map(str, set(days))))])
    copies.columns = ["silver_copies", "silver_days"]
    frame = copies.reindex(ids.union(copies.index)).rename_axis("event_id").reset_index()
    frame["in_bronze"] = frame["event_id"].isin(ids)
    frame["silver_copies"] = frame["silver_copies"].fillna(0).astype("int64")
    frame["silver_days"] = frame["silver_days"].fillna("")
    n, days = frame["silver_copies"], frame["silver_days"]
    problem = pd.Series(None, index=frame.index, dtype="object")
    problem[n == 0] = "in no day's silver"
    twice = (n > 1) & frame["in_bronze"]
    problem[twice] = "in silver " + n[twice].astype(str) + " times (dt=" + days[twice].str.replace(",", ", dt=") + ")"
    problem[~frame["in_bronze"]] = "in silver dt=" + days[~frame["in_bronze"]] + " but not a valid event of bronze"
    named = (frame["event_id"] + ": " + problem).astype("object")
    frame["problem"] = named.where(problem.notna(), None)
    return frame[list(OWNERSHIP_COLUMNS)].sort_values("event_id", ignore_index=True)


def ownership_summary(owners: pd.DataFrame) -> dict[str, object]:
    """How many events each day's silver owns, and how many are owned wrongly, by kind."""
    bronze = owners[owners["in_bronze"]]
    once = bronze[bronze["silver_copies"] == 1]
    return {
        "valid_events": len(bronze),
        "owned_once": len(once),
        "by_day": {str(d): int(c) for d, c in once["silver_days"].value_counts().sort_index().items()},
        "in_no_silver": int((bronze["silver_copies"] == 0).sum()),
        "in_silver_more_than_once": int((bronze["silver_copies"] > 1).sum()),
        "not_in_bronze": int((~owners["in_bronze"]).sum()),
    }


def ownership_problems(owners: pd.DataFrame, shown: int = 10) -> list[str]:
    """One line per kind of wrong ownership, naming up to `shown` event_ids."""
    lines = []
    for kind, rows in (
        ("valid events of bronze in no day's silver", owners[owners["silver_copies"] == 0]),
        (
            "valid events of bronze in silver more than once",
            owners[owners["in_bronze"] & (owners["silver_copies"] > 1)],
        ),
        ("silver events without a valid bronze row of the day", owners[~owners["in_bronze"]]),
    ):
        if len(rows):
            more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
            lines.append(f"ownership: {len(rows)} {kind}: {', '.join(rows['event_id'].head(shown))}{more}")
    return lines
