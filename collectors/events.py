"""From a decoded payload to Kafka records: permission, enrichment, validation against the
contract (:mod:`watershed.contract`, the single definition of every event), pseudonymisation
and serialisation. No HTTP here.

What the collector writes for an accepted event (docs/collector.md):

* value: the event as the contract parsed it (canonical event_id, UTC timestamps with ``Z``,
  amounts as JSON numbers, nulls left out), with the server's ``received_at``, a server
  ``event_id`` when the client sent none, and every personal field replaced by its keyed hash;
* key: ``user_id``, else ``anonymous_id`` (one user's events stay in one partition, in order);
* topic: the family of the event type (``topic_for``);
* headers: ``collector-version`` and ``bot`` (``true``/``false`` from the event's user agent),
  which the contract's strict models have no field for.

A rejected event goes to ``events-invalid`` with the reason, the errors, the write key's source
and the pseudonymised payload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from collectors.sink import Record
from watershed.contract import (
    EVENT_FAMILY,
    INVALID_TOPIC,
    FieldError,
    Source,
    event_types_for_source,
    is_bot_user_agent,
    topic_for,
    validate_event,
)
from watershed.pii import Pseudonymiser

_DUMP_OPTIONS = orjson.OPT_UTC_Z
_SOURCES = frozenset(s.value for s in Source)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_DUMP_OPTIONS)


@dataclass(frozen=True, slots=True)
class Accepted:
    record: Record
    event_id: str


class EventProcessor:
    """Turns payloads of one write key's source into records (stateless apart from its key)."""

    def __init__(self, pseudonymiser: Pseudonymiser, version: str) -> None:
        self.pseudonymiser = pseudonymiser
        self.version = version
        self._allowed = {source: frozenset(event_types_for_source(source)) for source in Source}
        self._headers = {
            flag: [("collector-version", version.encode()), ("bot", b"true" if flag else b"false")]
            for flag in (False, True)
        }

    def permission_error(self, payload: Any, source: Source) -> FieldError | None:
        """Why a key of `source` may not send this event (None when it may, or when the event is
        too broken to tell: validation reports that). Answered with 403."""
        if not isinstance(payload, dict):
            return None
        claimed = payload.get("source")
        if isinstance(claimed, str) and claimed != source.value and claimed in _SOURCES:
            return FieldError("source", f"the write key belongs to source {source.value}; this event says {claimed}")
        event_type = payload.get("event_type")
        if isinstance(event_type, str) and event_type in EVENT_FAMILY and event_type not in self._allowed[source]:
            family = EVENT_FAMILY[event_type].value
            return FieldError(
                "event_type", f"a write key of source {source.value} may not send {event_type} events ({family})"
            )
        return None

    def prepare(self, payload: Any, received_at: datetime) -> Accepted | tuple[FieldError, ...]:
        """The Kafka record of a valid event, or every reason it is invalid."""
        if isinstance(payload, dict) and "event_id" not in payload:
            payload = {**payload, "event_id": str(uuid.uuid4())}
        result = validate_event(payload, received_at=received_at)
        if not result.ok:
            return result.errors
        event = result.event
        data = self.pseudonymiser.pseudonymise(event.model_dump(exclude_none=True))
        key = event.user_id if event.user_id is not None else event.anonymous_id
        record = Record(
            topic_for(event.event_type),
            key.encode(),
            dumps(data),
            self._headers[is_bot_user_agent(event.user_agent)],
        )
        return Accepted(record, event.event_id)

    def error_dicts(self, errors: tuple[FieldError, ...] | list[FieldError]) -> list[dict[str, str]]:
        """Errors as sent back and kept: a field name that looks like personal data is hashed,
        personal data quoted in a message too (and long messages are cut)."""
        pseudonymiser = self.pseudonymiser
        return [
            {"field": pseudonymiser.scrub(e.field)[:200], "message": pseudonymiser.redact(e.message)} for e in errors
        ]

    def dead_letter(
        self,
        payload: Any,
        errors: tuple[FieldError, ...] | list[FieldError],
        source: Source,
        received_at: datetime,
        index: int | None = None,
    ) -> Record:
        """The events-invalid record of a rejected event. Personal data is hashed: the named
        personal fields, and any string anywhere that looks like an e-mail, phone or IP."""
        letter: dict[str, Any] = {
            "reason": "invalid_event",
            "errors": self.error_dicts(errors),
            "source": source.value,
            "received_at": received_at,
            "collector_version": self.version,
        }
        if index is not None:
            letter["index"] = index
        if isinstance(payload, dict):
            payload = self.pseudonymiser.pseudonymise(payload)
        letter["payload"] = self.pseudonymiser.scrub(payload)
        return Record(INVALID_TOPIC, None, dumps(letter), self._headers[False][:1])
