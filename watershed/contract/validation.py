"""The validation entry point used by the collector (and by anyone checking events by hand).

:func:`validate_event` never raises on bad input: it returns the parsed event or a list of
``{field, message}`` errors, the shape of the collector's batch response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from watershed.contract.ad_platform import AdPlatformDailyRow
from watershed.contract.events import Event, EventBase
from watershed.contract.versioning import UnsupportedVersion, upgrade


@dataclass(frozen=True)
class FieldError:
    field: str  # dotted path such as "items[0].price"; "" for the event as a whole
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class Validated:
    """An event that passed (`event` set) or the reasons it failed (`errors` non-empty)."""

    event: Any
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@cache
def _event_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Event)


def validate_event(payload: object, *, received_at: datetime | None = None) -> Validated:
    """Validate one decoded JSON event against the contract.

    `received_at` is the server's receive time: it replaces any client value (a client cannot
    forge it) and enables the time-window rules. Older schema versions are upgraded first.
    """
    if not isinstance(payload, dict):
        return Validated(None, (FieldError("", "an event must be a JSON object"),))
    try:
        data = upgrade(payload)
    except UnsupportedVersion as error:
        return Validated(None, (FieldError("schema_version", str(error)),))
    if received_at is not None:
        data["received_at"] = received_at
    try:
        event: EventBase = _event_adapter().validate_python(data)
    except ValidationError as error:
        return Validated(None, tuple(_field_errors(error, tagged=True)))
    return Validated(event)


def validate_ad_platform_row(payload: object) -> Validated:
    """Validate one ad-platform daily row (as the extractors produce it)."""
    return _validate_model(AdPlatformDailyRow, payload)


def _validate_model(model: type[BaseModel], payload: object) -> Validated:
    try:
        return Validated(model.model_validate(payload))
    except ValidationError as error:
        return Validated(None, tuple(_field_errors(error, tagged=False)))


def _field_errors(error: ValidationError, *, tagged: bool) -> list[FieldError]:
    """Pydantic's errors as {field, message}; `tagged` drops the union tag that leads each path
    of a discriminated union."""
    result = []
    for item in error.errors(include_url=False):
        loc: Sequence[str | int] = item["loc"][1:] if tagged else item["loc"]
        kind = item["type"]
        field = _path(loc)
        message = item["msg"].removeprefix("Value error, ")
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            field, message = "event_type", _unknown_type_message(item.get("input"))
        elif kind == "extra_forbidden":
            message = "is not a field of this event type; put free attributes in properties"
        elif kind == "contract_rule":
            field = item.get("ctx", {}).get("field", field)
        result.append(FieldError(field, message))
    return result


def _unknown_type_message(payload: Any) -> str:
    from watershed.contract.events import EVENT_TYPES

    given = payload.get("event_type") if isinstance(payload, dict) else None
    head = "is required" if given is None else f"{given!r} is not an event type"
    return f"{head}; expected one of {', '.join(EVENT_TYPES)}"


def _path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
