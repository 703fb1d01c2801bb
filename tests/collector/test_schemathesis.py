"""Property-based requests generated from the collector's OpenAPI schema (schemathesis): no
answer is a 5xx, and every answer matches the documented status codes, content types and
bodies. Runs against the session's collector on the real broker."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from collectors.app import create_app
from collectors.sink import MemorySink
from tests.collector.conftest import KEYS
from tests.collector.conftest import settings as collector_settings

# the coverage phase sends boundary values of every field (long strings, extreme numbers, wrong types)
COVERAGE = True
# The schema the running collector serves; built here so that collection needs no server.
schema = schemathesis.openapi.from_dict(
    create_app(collector_settings(), MemorySink()).openapi(),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": COVERAGE}}}),
)
SEEN: Counter[tuple[str, str, int]] = Counter()
# the last test reads what the generated ones saw, so the whole module runs in the stack lane
pytestmark = pytest.mark.stack
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _source(body: object) -> str:
    """The source the generated event claims, so that its key lets it through to validation."""
    if isinstance(body, dict) and isinstance(body.get("events"), list) and body["events"]:
        body = body["events"][0]
    claimed = body.get("source") if isinstance(body, dict) else None
    return claimed if isinstance(claimed, str) and claimed in KEYS else "web_analytics"


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_never_get_a_server_error(case: schemathesis.Case, collector: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {KEYS[_source(case.body)]}"} if case.path.startswith("/v1/") else {}
    response = case.call_and_validate(base_url=str(collector.base_url), headers=headers, checks=CHECKS)
    SEEN[(case.method, case.path, response.status_code)] += 1


def test_the_generated_requests_reached_kafka() -> None:
    """The run above went past authentication and validation: both endpoints stored events."""
    assert SEEN[("POST", "/v1/batch", 200)] > 0
    assert SEEN[("POST", "/v1/events", 422)] > 0
    assert not [key for key in SEEN if key[2] >= 500]
