"""The collector's answers other than 2xx: :class:`CollectorError`, the exception handlers that
turn it (and Starlette's 404/405/400) into ``{"error", "message", "errors"?}`` bodies counted by
reason in the metrics, and the OpenAPI models and descriptions of those answers.

Error bodies never contain a submitted value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

JSON = "application/json"


class CollectorError(Exception):
    """An answer other than 2xx: status, error code (also the metrics reason) and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors, headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer serialised with orjson (the handlers build their answers directly)."""
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


async def collector_error_handler(request: Request, error: Exception) -> Response:
    """A :class:`CollectorError` as its error body, counted by its code."""
    assert isinstance(error, CollectorError)
    request.app.state.collector.metrics.reject(error.code)
    return json_response(error.body(), error.status, error.headers)


async def http_error_handler(request: Request, error: Exception) -> Response:
    """Starlette's HTTP errors (unknown path, wrong method, ...) as error bodies, counted."""
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "malformed_request")
    request.app.state.collector.metrics.reject(code)
    return json_response({"error": code, "message": str(error.detail)}, error.status_code, error.headers)


def add_exception_handlers(app: FastAPI) -> None:
    """Install both handlers; they count in ``app.state.collector.metrics``."""
    app.add_exception_handler(CollectorError, collector_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)


# ---- OpenAPI ----------------------------------------------------------------------------------


class FieldErrorBody(BaseModel):
    field: str = Field(description="Dotted path of the field ('' for the event as a whole).")
    message: str


class IndexedErrors(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    errors: list[FieldErrorBody]


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable reason, also the metrics label.")
    message: str
    errors: list[dict[str, Any]] | None = Field(
        None, description="Field errors (422 of one event) or per-index errors (403/422 of a batch)."
    )


_DESCRIBED = {
    400: "Malformed JSON or request.",
    401: "No write key, or an unknown one.",
    403: "The write key's source may not send this event family.",
    413: "Body, event or event count over the limit.",
    415: "Content-Type is not application/json.",
    422: "The event (or the batch's shape) does not match the contract.",
    429: "The write key is over its rate limit; see Retry-After.",
    503: "Kafka did not acknowledge in time; nothing was accepted; see Retry-After.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` for these error statuses (429 and 503 with Retry-After)."""
    return {
        status: {
            "model": ErrorBody,
            "description": _DESCRIBED[status],
            **({"headers": _RETRY_AFTER} if status in (429, 503) else {}),
        }
        for status in statuses
    }
