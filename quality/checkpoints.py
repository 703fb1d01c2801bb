"""The checkpoints: for each, how a day's data is read and which suites it must pass.

========== ================================================================= =====================
checkpoint data of day D                                                      suites
========== ================================================================= =====================
bronze     ``bronze/<topic>/dt=D/hour=*`` of every event topic                ``bronze.events``
silver     ``silver/events/dt=D``, ``silver/sessions/dt=D``                   ``silver.events``,
                                                                              ``silver.sessions``
ads        ``silver/ad_platform/dt=D`` (``WATERSHED_QUALITY_AD_ROWS_PATH``),  ``ads.ad_platform_daily``
           and an extraction of D for every platform
           (``WATERSHED_QUALITY_AD_PLATFORMS``)
marts      each mart's rows of D in the warehouse, and D-1's volume           ``marts.<table>``
ad_marts   the same for the ad-campaign marts (``AD_MARTS``)                  ``marts.<table>``
ledger     every stage's counts per hour (:mod:`quality.ledger_io`)           ``ledger.reconciliation``
           the event_ids of bronze dt=D and of silver dt=D-1, dt=D            ``ledger.ownership``
========== ================================================================= =====================

A loader returns :class:`Prepared`: the validations, and checks that failed before any
expectation could run (no data at all for the day), reported like failed expectations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from quality import prepare, suites
from quality.engine import Validation
from quality.results import ExpectationOutcome
from quality.settings import QualitySettings
from watershed.contract import Family
from watershed.lake import arrow
from watershed.settings import Settings

EVENT_TOPICS = tuple(f.value for f in Family)


@dataclass
class Prepared:
    validations: list[Validation]
    missing: list[ExpectationOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def no_data(suite: str, what: str) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite=suite,
        name="has_rows",
        expectation="expect_table_row_count_to_be_between",
        columns=[],
        description="the day's partition exists and holds rows",
        success=False,
        element_count=0,
        error=f"no rows: {what}",
    )


# ---- validations of given frames (pure: the tests and the loaders use these) -------------------


def bronze_validations(events: pd.DataFrame, rules: suites.Rules) -> list[Validation]:
    frame = prepare.events(events, late_after_seconds=rules.late_after_seconds)
    return [Validation("bronze.events", suites.bronze_event_checks(rules), frame)]


def silver_validations(events: pd.DataFrame | None, sessions: pd.DataFrame | None) -> list[Validation]:
    out = []
    if events is not None:
        out.append(Validation("silver.events", suites.silver_event_checks(), prepare.silver_events(events)))
    if sessions is not None:
        out.append(Validation("silver.sessions", suites.silver_session_checks(), prepare.sessions(sessions)))
    return out


def ad_validations(rows: pd.DataFrame) -> list[Validation]:
    return [Validation("ads.ad_platform_daily", suites.ad_row_checks(), prepare.ad_rows(rows))]


def mart_validation(
    spec: suites.MartSpec,
    rows: pd.DataFrame,
    previous_volume: float | None,
    band: float,
    noise_sigmas: float | None = None,
) -> Validation:
    from quality.suites.marts import NOISE_SIGMAS, volume_band

    return Validation(
        f"marts.{spec.table}",
        suites.mart_checks(spec),
        prepare.plain(rows),
        volume_band(
            previous_volume, band, NOISE_SIGMAS if noise_sigmas is None else noise_sigmas, cumulative=spec.cumulative
        ),
    )


def ledger_validation(reconciliation: pd.DataFrame, steps: list[str]) -> Validation:
    frame = reconciliation if len(reconciliation) else pd.DataFrame({"step": [], "unexplained": []})
    return Validation("ledger.reconciliation", suites.ledger_checks(steps), frame.reset_index(drop=True))


# ---- loaders: read day D -------------------------------------------------------------------------


def load_bronze(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    iso = day.isoformat()
    # the raw value is the largest column and no check reads it
    parts = [
        arrow.read_frame(settings, f"bronze/{topic}/dt={iso}/hour=*", exclude=("kafka_value",))
        for topic in EVENT_TOPICS
    ]
    found = [p for p in parts if p is not None]
    if not found:
        return Prepared([], [no_data("bronze.events", f"bronze/<topic>/dt={iso}")])
    events = pd.concat(found, ignore_index=True)
    return Prepared(bronze_validations(events, suites.Rules.from_settings(qs)))


def load_silver(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    iso = day.isoformat()
    events = arrow.read_frame(settings, f"silver/events/dt={iso}")
    sessions = arrow.read_frame(settings, f"silver/sessions/dt={iso}")
    missing = []
    if events is None:
        missing.append(no_data("silver.events", f"silver/events/dt={iso}"))
    if sessions is None:
        missing.append(no_data("silver.sessions", f"silver/sessions/dt={iso}"))
    return Prepared(silver_validations(events, sessions), missing)


def load_ads(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    """The day's silver ad rows, and one file per (platform, account) for every expected platform:
    the extractors write every day of their window, a day without delivery as an empty file, so a
    platform without a file was not extracted (a day with no rows at all is "no data")."""
    folder = qs.ad_rows_path.format(date=day.isoformat())
    extracted = {name.split("-", 1)[0] for name in _file_names(settings, folder)}
    missing = [
        ExpectationOutcome(
            suite="ads.ad_platform_daily",
            name=f"extracted:{platform}",
            expectation="expect_table_row_count_to_be_between",
            columns=["platform"],
            description=f"{platform} was extracted for the day",
            success=False,
            element_count=0,
            error=f"no {platform} extraction in {folder}: run `watershed ads extract --platform {platform}`",
        )
        for platform in qs.ad_platforms
        if platform not in extracted
    ]
    rows = arrow.read_frame(settings, folder)
    if rows is None or rows.empty:
        return Prepared([], [*missing, no_data("ads.ad_platform_daily", folder)])
    return Prepared(ad_validations(rows), missing)


def _file_names(settings: Settings, folder: str) -> list[str]:
    """The data files directly in a lake folder (dot and underscore names left out)."""
    import pyarrow.fs as pafs

    fs, root = arrow.filesystem(settings)
    path = f"{root}/{folder.strip('/')}"
    if fs.get_file_info(path).type is not pafs.FileType.Directory:
        return []
    names = [info.base_name for info in fs.get_file_info(pafs.FileSelector(path)) if info.type is pafs.FileType.File]
    return sorted(n for n in names if not n.startswith((".", "_")))


def load_marts(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    from quality.suites.marts import load_marts as specs_of

    return marts_prepared(settings, qs, day, specs_of(qs.marts_file))


def load_ad_marts(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    from quality.suites.marts import AD_MARTS

    return marts_prepared(settings, qs, day, AD_MARTS)


def marts_prepared(settings: Settings, qs: QualitySettings, day: date, specs: Sequence[Any]) -> Prepared:
    """Each mart's rows of `day` in the warehouse (DuckDB or Snowflake), validated by its spec."""
    from warehouse.reader import open_marts

    prepared = Prepared([])
    with open_marts(settings) as marts:
        if marts is None:
            prepared.missing = [no_data(f"marts.{s.table}", f"warehouse {settings.duckdb_file}") for s in specs]
            return prepared
        for spec in specs:
            # unquoted names: the SQL both warehouses take (warehouse/reader.py)
            table = f"{qs.marts_schema}.{spec.table}"
            measure = f"sum({spec.volume})" if spec.volume else "count(*)"
            try:
                rows = marts.frame(f"select * from {table} where {spec.date_column} = ?", [day])  # noqa: S608
                found = marts.one(
                    f"select {measure}, count(*) from {table} where {spec.date_column} = ?",  # noqa: S608
                    [day - timedelta(days=1)],
                )
            except marts.errors as error:
                prepared.missing.append(no_data(f"marts.{spec.table}", str(error).splitlines()[0]))
                continue
            if rows.empty:
                prepared.missing.append(no_data(f"marts.{spec.table}", f"{table} has no row for {day}"))
                continue
            previous = float(found[0]) if found and found[1] and found[0] is not None else None
            prepared.validations.append(mart_validation(spec, rows, previous, qs.volume_band, qs.volume_noise_sigmas))
            prepared.notes.append(
                f"marts.{spec.table}: {len(rows)} rows; previous day's volume: "
                f"{'none' if previous is None else f'{previous:g}'}"
            )
    return prepared


def load_ledger(settings: Settings, qs: QualitySettings, day: date) -> Prepared:
    from quality.ledger import ownership, reconcile
    from quality.ledger_io import collect, ownership_inputs

    counts, notes = collect(
        settings,
        day,
        marts_table=qs.ledger_marts_table,
        marts_time_column=qs.ledger_marts_time_column,
        marts_schema=qs.marts_schema,
    )
    found = ownership_inputs(settings, day)
    if found is None:
        notes.append("ownership: not checked (bronze or silver has no partition of the day)")
    return ledger_prepared(reconcile(counts), notes, None if found is None else ownership(*found))


def ownership_validation(owners: pd.DataFrame) -> Validation:
    return Validation("ledger.ownership", suites.ownership_checks(), owners.reset_index(drop=True))


def ledger_prepared(ledger: Any, notes: list[str] | None = None, owners: pd.DataFrame | None = None) -> Prepared:
    """The ledger's validations: the reconciliation of counts and, when `owners` is given (see
    :func:`quality.ledger.ownership`), the ownership of every event."""
    from quality.ledger import ownership_problems, ownership_summary

    notes = list(notes or [])
    notes += ledger.problems()
    details = {
        "measured": ledger.measured,
        "not_measured": ledger.not_measured,
        "unexplained_by_step": {s: ledger.unexplained(s) for s in ledger.steps},
        "quarantine_reasons": ledger.reasons.groupby("reason")["count"].sum().astype(int).to_dict()
        if len(ledger.reasons)
        else {},
        "counts": ledger.counts.to_dict(orient="records"),
    }
    validations = [ledger_validation(ledger.reconciliation, ledger.steps)]
    if owners is not None:
        validations.append(ownership_validation(owners))
        notes += ownership_problems(owners)
        details["ownership"] = ownership_summary(owners)
    return Prepared(validations, notes=notes, details=details)


LOADERS: dict[str, Callable[[Settings, QualitySettings, date], Prepared]] = {
    "bronze": load_bronze,
    "silver": load_silver,
    "ads": load_ads,
    "marts": load_marts,
    "ad_marts": load_ad_marts,
    "ledger": load_ledger,
}
