"""Where each event type goes: its family (Kafka topic) and which sources may send it.

Derived from the family each event model declares, so adding a type is one class in
:mod:`watershed.contract.events`.
"""

from __future__ import annotations

from watershed.contract.events import EVENT_MODELS
from watershed.contract.families import SOURCE_FAMILIES, Family
from watershed.contract.fields import Source

EVENT_FAMILY: dict[str, Family] = {event_type: model.family for event_type, model in EVENT_MODELS.items()}

EVENT_TYPES_BY_FAMILY: dict[Family, tuple[str, ...]] = {
    family: tuple(t for t, f in EVENT_FAMILY.items() if f is family) for family in Family
}


def topic_for(event_type: str) -> str:
    """The Kafka topic of a known event type (KeyError for an unknown one: validate first)."""
    return EVENT_FAMILY[event_type].value


def source_may_send(source: Source | str, event_type: str) -> bool:
    """Whether a write key of `source` may send `event_type` (False for unknown values)."""
    try:
        return EVENT_FAMILY[event_type] in SOURCE_FAMILIES[Source(source)]
    except (KeyError, ValueError):
        return False


def event_types_for_source(source: Source | str) -> tuple[str, ...]:
    """Every event type a write key of `source` may send."""
    return tuple(t for t in EVENT_FAMILY if source_may_send(source, t))
