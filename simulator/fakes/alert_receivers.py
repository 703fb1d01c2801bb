"""Slack's incoming webhooks and PagerDuty's Events API v2, as small local servers that keep what
they receive, so the alert path (Prometheus -> Alertmanager -> Slack, PagerDuty) runs and is
tested with no account anywhere.

They answer as the real services do, and refuse what they would refuse:

* Slack (``POST /slack/<any path>``, as ``https://hooks.slack.com/services/T../B../...``): a JSON
  object with ``text``, ``blocks`` or ``attachments``; ``200 ok`` (plain text), else ``400
  invalid_payload`` or ``400 no_text``.
* PagerDuty (``POST /v2/enqueue``, as ``https://events.pagerduty.com/v2/enqueue``): an event with a
  32-character ``routing_key`` and ``event_action`` trigger, acknowledge or resolve; a trigger
  needs ``payload.summary``, ``payload.source`` and ``payload.severity`` (critical, error,
  warning, info). ``202 {"status": "success", "message": "Event processed", "dedup_key": ...}``,
  else ``400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``.

``GET /received`` returns everything accepted, in order: ``{"slack": [...], "pagerduty": [...]}``.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from simulator.fakes.http import LoopbackServer

PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def slack_errors(body: Any) -> str | None:
    """Slack's refusal of an incoming-webhook body, or None when it would post it."""
    if not isinstance(body, dict):
        return "invalid_payload"
    if not any(body.get(k) for k in ("text", "blocks", "attachments")):
        return "no_text"
    return None


def pagerduty_errors(event: Any) -> list[str]:
    """What Events API v2 would reject in `event` (empty: accepted)."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object."]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character string.")
    action = event.get("event_action")
    if action not in PAGERDUTY_ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(PAGERDUTY_ACTIONS)}.")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object.")
        else:
            for field in ("summary", "source"):
                if not payload.get(field):
                    errors.append(f"'payload.{field}' is missing or blank.")
            if payload.get("severity") not in PAGERDUTY_SEVERITIES:
                errors.append(f"'payload.severity' must be one of {', '.join(PAGERDUTY_SEVERITIES)}.")
    elif action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("'dedup_key' is required to acknowledge or resolve.")
    return errors


class AlertReceivers:
    """Both fakes on one loopback port (0: a free one) until :meth:`stop`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.received: dict[str, list[Any]] = {"slack": [], "pagerduty": []}
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handler(), port, name="alert-receivers", host=host)
        self.port = self._server.port

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/services/T0000/B0000/local"

    @property
    def pagerduty_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    def snapshot(self) -> dict[str, list[Any]]:
        with self._lock:
            return {k: list(v) for k, v in self.received.items()}

    def stop(self) -> None:
        self._server.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/received":
                    self._answer(200, receivers.snapshot())
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if self.path.startswith("/slack/"):
                    error = slack_errors(body)
                    if error:
                        self._answer(400, error, "text/plain")
                        return
                    with receivers._lock:
                        receivers.received["slack"].append(body)
                    self._answer(200, "ok", "text/plain")
                elif self.path == "/v2/enqueue":
                    errors = pagerduty_errors(body)
                    if errors:
                        self._answer(
                            400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
                        )
                        return
                    dedup_key = body.get("dedup_key") or uuid.uuid4().hex
                    with receivers._lock:
                        receivers.received["pagerduty"].append(body)
                    self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})
                else:
                    self._answer(404, {"error": "not found"})

        return Handler
