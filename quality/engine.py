"""Running suites with Great Expectations Core 1.x and reading its answers.

One file-backed GX project lives under ``<quality dir>/gx``: each run saves the suites (rebuilt
from :mod:`quality.suites`, so the JSON there is an export, never edited by hand), a pandas
data source with one dataframe asset per suite, a validation definition and a ``gx.Checkpoint``
per suite whose ``UpdateDataDocsAction`` renders the result into the Data Docs site
(``gx/uncommitted/data_docs/local_site/index.html``); GX stores every validation result under
``gx/uncommitted/validations/``.

Great Expectations is imported inside the functions: it takes seconds to import.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from quality.results import ExpectationOutcome
from quality.suites import Check, Condition

DATA_SOURCE = "watershed"
BATCH = "whole"


@dataclass
class Validation:
    """One table's rows and the checks they must pass. `parameters` fill ``$PARAMETER``
    placeholders (the marts' day-over-day band)."""

    suite: str
    checks: list[Check]
    frame: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    """GX's values (numpy scalars, Timestamps, NaN, tuples) as plain JSON values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not hasattr(value, "isoformat"):
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "isoformat"):
        if value is pd.NaT:
            return None
        return value.isoformat()
    return str(value)


def _condition_columns(condition: Condition | None) -> list[str]:
    if condition is None:
        return []
    if condition[0] in ("any", "all"):
        return [c for part in condition[1] for c in _condition_columns(part)]
    return [condition[1]]


def needed(frame: pd.DataFrame, checks: list[Check]) -> pd.DataFrame:
    """Only the columns the checks read: GX copies the frame for many metrics, so a narrow
    frame validates much faster than the full table."""
    wanted = dict.fromkeys(c for check in checks for c in [*check.columns, *_condition_columns(check.condition)])
    return frame[[c for c in frame.columns if c in wanted]]


def _condition(condition: Condition) -> Any:
    from great_expectations.expectations.row_conditions import AndCondition, Column, OrCondition

    kind = condition[0]
    if kind == "==":
        return Column(condition[1]) == condition[2]
    if kind == "<=":
        return Column(condition[1]) <= condition[2]
    if kind == ">=":
        return Column(condition[1]) >= condition[2]
    if kind == "in":
        return Column(condition[1]).is_in(list(condition[2]))
    if kind == "null":
        return Column(condition[1]).is_null()
    if kind == "not_null":
        return Column(condition[1]).is_not_null()
    if kind == "any":
        return OrCondition(conditions=[_condition(c) for c in condition[1]])
    if kind == "all":
        return AndCondition(conditions=[_condition(c) for c in condition[1]])
    raise ValueError(f"unknown row condition {condition!r}")


def expectation(check: Check) -> Any:
    """The GX expectation object of a :class:`Check`."""
    import great_expectations as gx

    cls = getattr(gx.expectations, check.expectation)
    extra: dict[str, Any] = {}
    if check.condition is not None:
        extra["row_condition"] = _condition(check.condition)
    return cls(**check.kwargs, **extra, meta={"name": check.name}, description=check.description)


def fingerprint(checks: list[Check]) -> str:
    """A digest of the checks: a stored suite with the same digest is reused as is."""
    import hashlib

    parts = [(c.name, c.expectation, sorted(c.kwargs.items(), key=str), c.description, c.condition) for c in checks]
    text = repr(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def suite(name: str, checks: list[Check]) -> Any:
    import great_expectations as gx

    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"suite {name}: check names must be unique (repeated: {', '.join(duplicates)})")
    return gx.ExpectationSuite(
        name=name,
        expectations=[expectation(c) for c in checks],
        meta={"built_by": "quality.suites (docs/quality.md)", "fingerprint": fingerprint(checks)},
    )


def stored_suite(ctx: Any, name: str, checks: list[Check]) -> Any:
    """The project's suite `name`, saved again only when the checks changed (saving compares
    every expectation with every stored one, which is slow for large suites)."""
    from great_expectations.exceptions import DataContextError

    try:
        existing = ctx.suites.get(name)
    except DataContextError:
        existing = None
    if existing is not None and (existing.meta or {}).get("fingerprint") == fingerprint(checks):
        return existing
    if existing is not None:
        ctx.suites.delete(name)
    return ctx.suites.add(suite(name, checks))


def context(project_dir: Path) -> Any:
    """The file-backed GX project under `project_dir`/gx (created on first use), progress bars
    and analytics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    project_dir.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(project_dir))
    bars = ctx.variables.progress_bars
    shown = bars.get("globally", True) if isinstance(bars, dict) else getattr(bars, "globally", True)
    if ctx.variables.analytics_enabled is not False or bars is None or shown:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.variables.analytics_enabled = False
        ctx.variables.save()
    return ctx


def _asset(ctx: Any, name: str) -> Any:
    source = (
        ctx.data_sources.add_or_update_pandas(DATA_SOURCE)
        if DATA_SOURCE not in ctx.data_sources.all()
        else (ctx.data_sources.get(DATA_SOURCE))
    )
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition(BATCH)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH)


def run(
    ctx: Any,
    validations: list[Validation],
    *,
    run_name: str,
    samples: int = 10,
    data_docs: bool = True,
    run_time: datetime | None = None,
) -> list[ExpectationOutcome]:
    """Validate each frame with its suite through a GX checkpoint; the outcome of every expectation."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    outcomes: list[ExpectationOutcome] = []
    run_time = run_time or datetime.now(UTC)
    for validation in validations:
        built = stored_suite(ctx, validation.suite, validation.checks)
        batch = _asset(ctx, validation.suite)
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=validation.suite, data=batch, suite=built)
        )
        actions: list[Any] = [gx.checkpoint.UpdateDataDocsAction(name="data_docs")] if data_docs else []
        checkpoint = ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=validation.suite,
                validation_definitions=[definition],
                actions=actions,
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": samples},
            )
        )
        with warnings.catch_warnings():
            # pandas warns that the contract's PII patterns have groups GX does not extract
            warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
            result = checkpoint.run(
                batch_parameters={"dataframe": needed(validation.frame, validation.checks)},
                expectation_parameters=validation.parameters or None,
                run_id=RunIdentifier(run_name=run_name, run_time=run_time),
            )
        by_name = {c.name: c for c in validation.checks}
        for suite_result in result.run_results.values():
            for item in suite_result.results:
                config = item.expectation_config
                name = (config.meta or {}).get("name") or config.type
                check = by_name.get(name)
                outcomes.append(_outcome(validation.suite, name, check, item, samples))
    order = {(v.suite, c.name): i for v in validations for i, c in enumerate(v.checks)}
    outcomes.sort(key=lambda o: (o.suite, order.get((o.suite, o.name), 0)))
    return outcomes


def _outcome(suite_name: str, name: str, check: Check | None, item: Any, samples: int) -> ExpectationOutcome:
    result = item.result or {}
    error = _exception(item.exception_info or {})
    if not item.success and error is None and result.get("unexpected_count") is None and not result:
        error = "not evaluated"
    percent = result.get("unexpected_percent")
    return ExpectationOutcome(
        suite=suite_name,
        name=name,
        expectation=item.expectation_config.type,
        columns=check.columns if check else [],
        description=check.description if check else "",
        success=bool(item.success),
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        unexpected_percent=None if percent is None else float(percent),
        samples=_jsonable(list(result.get("partial_unexpected_list") or [])[:samples]),
        observed_value=_jsonable(result.get("observed_value")),
        expected=_jsonable(
            {k: v for k, v in (item.expectation_config.kwargs or {}).items() if k in ("min_value", "max_value")}
        ),
        error=error,
    )


def _exception(info: dict[str, Any]) -> str | None:
    """The first exception message of a result: GX reports it at the top level, or per metric."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception").splitlines()[0]
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"]).splitlines()[0]
    return None


def data_docs_index(ctx: Any) -> str | None:
    try:
        sites = ctx.get_docs_sites_urls()
    except Exception:  # a docs lookup must not fail a run
        return None
    return sites[0].get("site_url") if sites else None


def as_dict(outcome: ExpectationOutcome) -> dict[str, Any]:
    return asdict(outcome)


def day_label(day: date | None) -> str:
    return day.isoformat() if day else "all"
