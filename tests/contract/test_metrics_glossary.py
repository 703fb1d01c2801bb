"""The metrics glossary (watershed/contract/metrics.py) is the one place metrics are defined:
docs/metrics.md is its rendering, and every stored column named after a metric is listed there.
The values are checked against independent computations in tests/warehouse/test_ground_truth.py."""

from __future__ import annotations

from pathlib import Path

import yaml

from spark_jobs.streaming.transforms import METRIC_COLUMNS
from watershed.contract.metrics import BY_NAME, METRICS, NOT_METRICS, markdown

ROOT = Path(__file__).resolve().parents[2]


def mart_columns() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "dbt" / "models" / "marts").glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            out[model["name"]] = {c["name"] for c in model.get("columns", [])}
    return out


def stored(metric_columns: tuple[str, ...]) -> list[tuple[str, str]]:
    """("<mart or streaming>", column) of the glossary's "<table>.<column>" entries."""
    return [tuple(c.split(".", 1)) for c in metric_columns if " " not in c and "." in c]  # type: ignore[misc]


def test_docs_metrics_md_is_the_rendered_glossary() -> None:
    assert (ROOT / "docs" / "metrics.md").read_text() == markdown(), (
        "run: python -m watershed.contract.metrics > docs/metrics.md"
    )


def test_every_column_the_glossary_names_exists() -> None:
    marts = mart_columns()
    for metric in METRICS:
        for table, column in stored(metric.columns):
            if table == "streaming":
                assert column in METRIC_COLUMNS, (metric.name, column)
            elif table in marts:
                assert column in marts[table], f"{metric.name}: {table} has no column {column}"


def test_a_mart_column_named_after_a_metric_is_the_glossary_metric() -> None:
    listed = {(t, c) for m in METRICS for t, c in stored(m.columns)}
    listed |= {tuple(c.split(".", 1)) for c in NOT_METRICS}  # type: ignore[misc]
    named = {
        (table, column)
        for table, columns in mart_columns().items()
        for column in columns
        if column in BY_NAME and BY_NAME[column].columns
    }
    assert named - listed == set(), "a mart column carries a metric's name but the glossary does not list it there"
    streaming = {("streaming", c) for c in METRIC_COLUMNS if c in BY_NAME}
    assert streaming <= listed


def test_the_stream_has_no_conversion_rate() -> None:
    # conversion is per session; the stream has no sessions, so it reports a differently named share
    assert "conversion_rate" not in METRIC_COLUMNS
    assert ("streaming", "buyer_share") in stored(BY_NAME["buyer_share"].columns)
