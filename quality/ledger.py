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
