"""What a checkpoint run finds: the outcome of each expectation (:class:`ExpectationOutcome`) and
of the whole run (:class:`CheckpointOutcome`: verdict, score, notes, where the result file and
Data Docs are). Plain dataclasses with the report and summary they render, imported by the
runner, the metrics, the alert and the tests; this module imports nothing else of ``quality``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ExpectationOutcome:
    suite: str
    name: str
    expectation: str
    columns: list[str]
    description: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    samples: list[Any] = field(default_factory=list)
    observed_value: Any = None
    expected: dict[str, Any] = field(default_factory=dict)  # the bounds, as evaluated
    error: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.suite}/{self.name}"

    def explain(self) -> str:
        """One line: what failed, how many rows, which values."""
        if self.error:
            return f"{self.qualified_name}: could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            of = ""
            if self.element_count:
                of = f" of {self.element_count} ({100 * self.unexpected_count / self.element_count:.2f}%)"
            sample = f", e.g. {', '.join(_short(v) for v in self.samples)}" if self.samples else ""
            return f"{self.qualified_name}: {self.unexpected_count}{of} rows unexpected{sample} [{self.description}]"
        bounds = ""
        if self.expected:
            low, high = self.expected.get("min_value"), self.expected.get("max_value")
            bounds = f", expected within [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        return f"{self.qualified_name}: observed {_short(self.observed_value)}{bounds} [{self.description}]"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class CheckpointOutcome:
    checkpoint: str
    date: str
    success: bool
    evaluated: int
    met: int
    score: float
    expectations: list[ExpectationOutcome]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    result_path: str | None = None
    data_docs: str | None = None
    metrics_path: str | None = None
    alert_sent: bool = False

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    @property
    def failed_names(self) -> list[str]:
        return [f.qualified_name for f in self.failures]

    def failure(self, qualified_name: str) -> ExpectationOutcome | None:
        return next((e for e in self.expectations if e.qualified_name == qualified_name), None)

    def report(self) -> list[str]:
        """The human-readable report the CLI prints."""
        verdict = "PASSED" if self.success else "FAILED"
        lines = [
            f"checkpoint {self.checkpoint} for {self.date}: {verdict} "
            f"({self.met}/{self.evaluated} expectations met, score {self.score:.3f})"
        ]
        lines += [f"  FAILED {f.explain()}" for f in self.failures]
        lines += [f"  note: {n}" for n in self.notes]
        if self.result_path:
            lines.append(f"  result: {self.result_path}")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = self.failed_names
        return data

    def summary(self) -> dict[str, Any]:
        """Small enough for an Airflow XCom: the verdict, the score and where the rest is."""
        return {
            "checkpoint": self.checkpoint,
            "date": self.date,
            "success": self.success,
            "score": self.score,
            "failed": self.failed_names,
            "result_path": self.result_path,
        }
