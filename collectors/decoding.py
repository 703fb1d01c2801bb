"""From an HTTP request to decoded JSON: content type, body size limits, JSON parsing and the
batch envelope ``{"events": [...]}``, each failure a :class:`~collectors.errors.CollectorError`
(415, 413, 400, 422), and the OpenAPI description of the two request bodies. What happens to a
decoded event (permission, contract, pseudonymisation) is :mod:`collectors.events`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.requests import ClientDisconnect

from collectors.errors import JSON, CollectorError


def check_content_type(request: Request) -> None:
    """415 unless the body is declared as uncompressed UTF-8 JSON."""
    given = request.headers.get("content-type")
    media, _, params = (given or "").partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != JSON or charset not in ("", "utf-8", "utf8"):
        shown = "none" if given is None else repr(given[:60])
        raise CollectorError(415, "unsupported_media_type", f"send Content-Type: application/json (got {shown})")
    encoding = request.headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() != "identity":
        raise CollectorError(
            415, "unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed"
        )


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The body, refused with 413 as soon as its declared or streamed size is over ``limit``."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise CollectorError(400, "malformed_request", "Content-Length is not a number")
        if int(length) > limit:
            raise CollectorError(
                413, "payload_too_large", f"{what} is {int(length)} bytes; at most {limit} bytes are accepted"
            )
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise CollectorError(
                    413, "payload_too_large", f"{what} is more than {limit} bytes; at most {limit} bytes are accepted"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise CollectorError(400, "malformed_request", "the client left before sending the whole body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The decoded body (400 with the position of the first syntax error)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise CollectorError(
            400,
            "malformed_json",
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None


def batch_events(document: Any, limit: int) -> list[Any]:
    """The events of a batch envelope: 422 unless it is exactly ``{"events": [1..limit events]}``,
    413 over ``limit``."""
    if not isinstance(document, dict) or "events" not in document:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": "events", "message": "is required"}],
        )
    extra = sorted(k for k in document if k != "events")
    if extra:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": name[:100], "message": "is not a field of a batch"} for name in extra[:20]],
        )
    events = document["events"]
    if not isinstance(events, list) or not events:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": "events", "message": f"must be a list of 1 to {limit} events"}],
        )
    if len(events) > limit:
        raise CollectorError(
            413, "payload_too_large", f"the batch holds {len(events)} events; at most {limit} are accepted"
        )
    return events


def check_event_sizes(events: list[Any], body_size: int, limit: int) -> None:
    """413 for the first event of a batch whose JSON is over ``limit`` bytes."""
    if body_size <= limit:  # only then can one event be over the limit
        return
    for index, event in enumerate(events):
        size = len(orjson.dumps(event))
        if size > limit:
            raise CollectorError(
                413,
                "payload_too_large",
                f"event {index} is {size} bytes; at most {limit} bytes are accepted",
            )


# ---- OpenAPI ----------------------------------------------------------------------------------


def body_doc(ref: str) -> dict[str, Any]:
    """A route's OpenAPI ``requestBody``: required JSON with the schema at ``ref``."""
    return {"required": True, "content": {JSON: {"schema": {"$ref": ref}}}}


def request_schemas(max_batch_events: int) -> dict[str, Any]:
    """The OpenAPI component schemas of the two request bodies: ``Event`` (the contract's JSON
    Schema, with its definitions) and ``Batch``."""
    from pydantic import TypeAdapter

    from watershed.contract import Event

    event_schema = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = event_schema.pop("$defs", {})
    schemas["Event"] = event_schema
    schemas["Batch"] = {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch_events,
                "items": {"$ref": "#/components/schemas/Event"},
            }
        },
    }
    return schemas
