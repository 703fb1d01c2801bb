"""Event families: each is one Kafka topic, and each source may send only some families.

The collector checks the source of a write key against :data:`SOURCE_FAMILIES`; the event models
declare their own family, so the type -> topic mapping (:mod:`watershed.contract.routing`) is
derived, never listed twice.
"""

from __future__ import annotations

from enum import StrEnum

from watershed.contract.fields import Source


class Family(StrEnum):
    """An event family; its value is the Kafka topic name."""

    USER_EVENTS = "user-events"
    TRANSACTION_DATA = "transaction-data"
    AD_EVENTS = "ad-events"


# Dead letters: events the collector rejects, with the reason (written by the collector).
INVALID_TOPIC = "events-invalid"

SOURCE_FAMILIES: dict[Source, frozenset[Family]] = {
    Source.WEB_ANALYTICS: frozenset({Family.USER_EVENTS}),
    Source.USER_EVENTS: frozenset({Family.USER_EVENTS}),
    Source.TRANSACTION_DATA: frozenset({Family.TRANSACTION_DATA}),
    Source.AD_PLATFORM: frozenset({Family.AD_EVENTS}),
}
