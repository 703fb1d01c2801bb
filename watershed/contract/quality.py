"""What the quality suites check, derived from the contract (the suites themselves live in
quality/ and are built by the quality engineer from these inputs).

:func:`quality_inputs` returns one :class:`TableChecks` per flat table. Everything in it comes
from the models (required fields, enum values, numeric bounds, patterns, personal-data fields)
or from the shared meanings in :mod:`watershed.contract.semantics`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from watershed.contract.ad_platform import AdPlatformDailyRow
from watershed.contract.columns import Column, ad_platform_columns, event_columns
from watershed.contract.events import EVENT_MODELS, MONEY_FIELDS
from watershed.contract.fields import (
    CANONICAL_UUID_PATTERN,
    CURRENT_SCHEMA_VERSION,
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
)
from watershed.contract.semantics import BOT_USER_AGENT_PATTERN
from watershed.contract.versioning import MIN_SUPPORTED_SCHEMA_VERSION

# Full-value patterns for raw personal data. A column listed in `personal_columns` must not
# match them once stored (the collector replaces each value with a keyed hash).
PII_PATTERNS: dict[str, str] = {
    "email": r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
    "phone": r"^\+?[0-9][0-9 ().-]{6,20}[0-9]$",
    "ipv4": r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$",
    "ipv6": r"^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}$",
}


@dataclass(frozen=True)
class TableChecks:
    """Inputs of one table's expectation suite. Nested fields are named ``parent.child``."""

    table: str
    unique_key: tuple[str, ...]
    # non-null in every stored row
    required_columns: tuple[str, ...]
    # non-null when the row's event_type is the key (events only)
    required_by_event_type: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # at least one column of each group is non-null
    at_least_one_of: tuple[tuple[str, ...], ...] = ()
    accepted_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # inclusive bounds; None means unbounded on that side
    numeric_ranges: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)
    # column -> full-value regular expression
    patterns: dict[str, str] = field(default_factory=dict)
    personal_columns: tuple[str, ...] = ()
    pii_patterns: dict[str, str] = field(default_factory=dict)
    # other rules, for suites to implement by name
    rules: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (decimals as strings)."""
        return _jsonable(asdict(self))


def quality_inputs() -> dict[str, TableChecks]:
    return {"events": _event_checks(), "ad_platform_daily": _ad_platform_checks()}


def _event_checks() -> TableChecks:
    required = {t: _required(model.model_fields) for t, model in EVENT_MODELS.items()}
    everywhere = tuple(n for n in next(iter(required.values())) if all(n in r for r in required.values()))
    columns = event_columns()
    return TableChecks(
        table="events",
        unique_key=("event_id",),
        # received_at is optional for clients but always set by the collector
        required_columns=(*everywhere, "received_at"),
        required_by_event_type={t: tuple(n for n in r if n not in everywhere) for t, r in required.items()},
        at_least_one_of=(("user_id", "anonymous_id"),),
        accepted_values={
            **_accepted(columns),
            "schema_version": tuple(range(MIN_SUPPORTED_SCHEMA_VERSION, CURRENT_SCHEMA_VERSION + 1)),
        },
        numeric_ranges=_ranges(columns),
        patterns={**_patterns(columns), "event_id": CANONICAL_UUID_PATTERN},
        personal_columns=tuple(c.name for c in columns if c.personal),
        pii_patterns=dict(PII_PATTERNS),
        rules={
            "currency_required_with_amount": list(MONEY_FIELDS),
            "max_event_age_seconds": int(MAX_EVENT_AGE.total_seconds()),
            "max_clock_skew_seconds": int(MAX_CLOCK_SKEW.total_seconds()),
            "bot_user_agent_pattern": BOT_USER_AGENT_PATTERN,
        },
    )


def _ad_platform_checks() -> TableChecks:
    columns = ad_platform_columns()
    return TableChecks(
        table="ad_platform_daily",
        unique_key=("date", "platform", "account_id", "campaign_id"),
        required_columns=_required(AdPlatformDailyRow.model_fields),
        accepted_values=_accepted(columns),
        numeric_ranges=_ranges(columns),
        patterns=_patterns(columns),
        rules={"clicks_at_most_impressions": True, "ctr_between": [0, 1]},
    )


def _required(fields: dict[str, Any]) -> tuple[str, ...]:
    return tuple(name for name, info in fields.items() if info.is_required())


def _flatten(columns: tuple[Column, ...], prefix: str = "") -> list[tuple[str, Column]]:
    out = []
    for column in columns:
        out.append((prefix + column.name, column))
        out += _flatten(column.fields, f"{prefix}{column.name}.")
    return out


def _accepted(columns: tuple[Column, ...]) -> dict[str, tuple[Any, ...]]:
    return {name: c.choices for name, c in _flatten(columns) if c.choices}


def _ranges(columns: tuple[Column, ...]) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    return {
        name: (c.minimum, c.maximum) for name, c in _flatten(columns) if c.minimum is not None or c.maximum is not None
    }


def _patterns(columns: tuple[Column, ...]) -> dict[str, str]:
    return {name: c.pattern for name, c in _flatten(columns) if c.pattern}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
