"""What to generate: size, time window, seed and fault rates."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from watershed.errors import WatershedError

DEFAULT_START = dt.date(2025, 1, 6)  # a Monday; a fixed default keeps the data free of wall-clock time
MAX_DAYS = 366


class GeneratorError(WatershedError):
    """The generator's options are inconsistent, or a sink failed."""


@dataclass(frozen=True)
class FaultRates:
    """Each rate is the share of base events (all events before duplicates are added) that get
    the fault; the generator picks exactly round(rate * base events) of them (docs/generator.md).
    A malformed event has no other fault; late and out-of-order exclude each other."""

    duplicate: float = 0.0
    late: float = 0.0
    out_of_order: float = 0.0
    malformed: float = 0.0
    bot: float = 0.0
    pii: float = 0.0

    def problems(self) -> list[str]:
        issues = [
            f"{name} rate must be in [0, 1) (got {rate})" for name, rate in asdict(self).items() if not 0 <= rate < 1
        ]
        if self.malformed + self.late + self.out_of_order > 1:
            issues.append("malformed + late + out-of-order rates must not exceed 1")
        if self.malformed + self.duplicate > 1 or self.malformed + self.pii > 1:
            issues.append("malformed + duplicate and malformed + pii rates must not exceed 1")
        return issues


@dataclass(frozen=True)
class GeneratorConfig:
    """`events` sets the approximate number of base events (users are added until it is
    reached); `users` sets the number of human users instead. Exactly one of them is given."""

    seed: int = 0
    start_date: dt.date = DEFAULT_START
    days: int = 7
    events: int | None = 100_000
    users: int | None = None
    faults: FaultRates = field(default_factory=FaultRates)

    def __post_init__(self) -> None:
        issues = self.faults.problems()
        if (self.events is None) == (self.users is None):
            issues.append("give exactly one of events and users")
        if self.events is not None and self.events < 1:
            issues.append(f"events must be positive (got {self.events})")
        if self.users is not None and self.users < 1:
            issues.append(f"users must be positive (got {self.users})")
        if not 1 <= self.days <= MAX_DAYS:
            issues.append(f"days must be between 1 and {MAX_DAYS} (got {self.days})")
        if not 0 <= self.seed < 2**63:
            issues.append(f"seed must be a non-negative 64-bit integer (got {self.seed})")
        if issues:
            raise GeneratorError("; ".join(issues))

    @property
    def window_start_ms(self) -> int:
        return _epoch_ms(self.start_date)

    @property
    def window_end_ms(self) -> int:
        return _epoch_ms(self.start_date + dt.timedelta(days=self.days))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly parameters, as written to truth/summary.json."""
        return {
            "seed": self.seed,
            "start_date": self.start_date.isoformat(),
            "days": self.days,
            "events": self.events,
            "users": self.users,
            "fault_rates": asdict(self.faults),
        }


def _epoch_ms(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * 86_400_000
