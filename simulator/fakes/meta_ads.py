"""A fake Meta Marketing (Graph) API over real HTTP, serving the simulated world's facebook_ads
campaign rows, with the faults an extractor must survive.

The official ``facebook-business`` SDK talks to it unchanged: point a session's ``GRAPH`` at
:attr:`FakeMetaAds.url` (``http://127.0.0.1:<port>``). It speaks the paths the SDK uses for
campaign-level daily insights of one ad account:

* ``GET /<ver>/act_<id>/`` (``AdAccount.api_get``): ``id``, ``account_id``, ``name``,
  ``currency``, ``timezone_name``;
* ``GET /<ver>/act_<id>/insights`` (sync ``get_insights``) and the async flow:
  ``POST /<ver>/act_<id>/insights`` -> ``{"report_run_id"}``, ``GET /<ver>/<run_id>/``
  (``async_status``, ``async_percent_completion``) and ``GET /<ver>/<run_id>/insights``;
  only ``level=campaign`` with ``time_increment=1`` and a ``time_range`` are understood (anything
  else is the API's error 100).

Rows look like the API's: numbers are strings, cost is ``spend``, and conversions are in the
``actions`` / ``action_values`` arrays, where the same purchases appear under several action types
(``offsite_conversion.fb_pixel_purchase``, ``omni_purchase``, ``purchase``) with the same value,
so an extractor summing them double counts. A day without purchases has no purchase entries (the
API omits zero actions). Results are paged with opaque ``after`` cursors (``page_size`` rows a
page, smaller than a request's ``limit`` when set), the last page has no ``paging.next``.

Every request is checked for the configured ``access_token`` (and ``appsecret_proof`` when an
``app_secret`` is configured): a wrong one is error 190 "Invalid OAuth access token", an expired
one (:attr:`Faults.token_expired`) error 190 subcode 463, both HTTP 400 ``OAuthException``.

Faults (:class:`Faults`, per instance): rate limiting (the first N requests get code 17, 613, 4 or
80000 with ``x-business-use-case-usage`` carrying ``estimated_time_to_regain_access`` in minutes),
transient HTTP 500s, an async job that stays "Job Running" forever or ends "Job Failed", a page
request cut (HTTP 500 once for a page after the first), restated conversions from a later pull
on, and removed campaigns (still reported with their metrics). Every request is recorded
(:attr:`FakeMetaAds.requests`, token removed) and :meth:`FakeMetaAds.rows` is the truth it serves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulator.fakes.http import LoopbackServer
from simulator.fakes.truth import ServedRows
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform

VERSION = "v26.0"  # the API version served (and pinned by extractors/meta_ads.py)
PURCHASE_ACTION_TYPE = "offsite_conversion.fb_pixel_purchase"
PURCHASE_ALIASES = ("omni_purchase", "purchase")  # the same purchases again, same value
INSIGHT_FIELDS = (
    "account_id",
    "account_name",
    "campaign_id",
    "campaign_name",
    "impressions",
    "clicks",
    "spend",
    "actions",
    "action_values",
)
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name")
RATE_LIMITS = {  # code -> (subcode, message)
    4: (1504022, "Application request limit reached"),
    17: (2446079, "User request limit reached"),
    613: (1487742, "There have been too many calls from this ad-account. Please wait a bit and try again."),
    80000: (2446079, "There have been too many calls from this ad-account. Wait a bit and try again."),
}


@dataclass(frozen=True)
class Restatement:
    """From the `after_pulls`+1-th complete insights pull on, a (day, campaign) reports these
    conversions instead (late conversions attributed to an earlier day)."""

    day: date
    campaign_id: str
    conversions: float
    conversion_value: Decimal
    after_pulls: int = 1


@dataclass
class Faults:
    rate_limited_calls: int = 0  # the first N requests: a rate-limit error
    rate_limit_code: int = 17  # 4, 17, 613 or 80000
    regain_access_minutes: int = 2  # estimated_time_to_regain_access in x-business-use-case-usage
    transient_errors: int = 0  # after any rate limiting, the next N requests: HTTP 500 (code 2, transient)
    token_expired: bool = False  # every request: 190/463 "Session has expired"
    job_stuck: bool = False  # async jobs stay "Job Running" forever
    job_failed: bool = False  # async jobs end "Job Failed"
    running_polls: int = 1  # status polls answered "Job Running" before "Job Completed"
    cut_pages: int = 0  # the first N requests for a page after the first fail once (HTTP 500)
    restatements: Sequence[Restatement] = ()
    removed_campaigns: frozenset[str] = frozenset()  # effective_status DELETED, metrics still reported


@dataclass(frozen=True)
class Request:
    """One HTTP request as received, without the access token and appsecret_proof."""

    method: str
    path: str
    params: Mapping[str, str]
    kind: str  # "account", "insights" (sync), "job_create", "job_status", "job_results", "unknown"
    status: int = 200
    outcome: str = "ok"  # "ok", "rate_limited", "transient", "cut", "token", "bad_request"

    @property
    def is_page(self) -> bool:
        """A request for rows (sync insights or job results)."""
        return self.kind in ("insights", "job_results")


@dataclass(frozen=True)
class Account:
    account_id: str  # digits, without act_
    name: str
    timezone_name: str
    currency: str


@dataclass
class _Job:
    run_id: str
    account_id: str
    since: date
    until: date
    fields: tuple[str, ...]
    rows: list[AdPlatformDailyRow]
    polls: int = 0


class _Fail(Exception):
    def __init__(
        self,
        status: int,
        outcome: str,
        error: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(error.get("message", ""))
        self.status, self.outcome, self.error, self.headers = status, outcome, error, dict(headers or {})


_VERSIONED = re.compile(r"^/(?P<version>v\d+\.\d+)/(?P<rest>.*)$")


class FakeMetaAds(ServedRows):
    """The fake server. ``with FakeMetaAds(rows) as fake:`` serves on ``fake.url`` until the
    block ends."""

    def __init__(
        self,
        rows: Iterable[AdPlatformDailyRow | Mapping[str, Any]],
        *,
        accounts: Iterable[Account] | None = None,
        access_token: str = "fake-meta-access-token",  # noqa: S107 - a fake's test token
        app_secret: str | None = None,
        page_size: int = 25,
        faults: Faults | None = None,
        version: str = VERSION,
    ):
        from simulator.world import ACCOUNTS

        parsed = [r if isinstance(r, AdPlatformDailyRow) else AdPlatformDailyRow.model_validate(dict(r)) for r in rows]
        if accounts is None:
            aid, name, tz, currency = ACCOUNTS[Platform.FACEBOOK_ADS]
            accounts = [Account(aid, name, tz, currency)]
        self.accounts: dict[str, Account] = {a.account_id: a for a in accounts}
        self._rows = sorted(
            (r for r in parsed if r.platform == Platform.FACEBOOK_ADS),
            key=lambda r: (r.account_id, r.date, r.campaign_id),
        )
        if page_size < 1:
            raise ValueError(f"page_size must be positive (got {page_size})")
        self.access_token, self.app_secret, self.page_size, self.version = access_token, app_secret, page_size, version
        self.faults = faults or Faults()
        self.requests: list[Request] = []
        self.completed_pulls = 0  # insights pulls served to their last page
        self._jobs: dict[str, _Job] = {}
        self._run_ids = itertools.count(6_120_000_000_000_001)
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None
        self.port = 0
        self.public_host = "127.0.0.1"

    # -- the truth: rows() and write_truth() come from ServedRows ----------------------------------

    def effective_status(self, campaign_id: str) -> str:
        return "DELETED" if campaign_id in self.faults.removed_campaigns else "ACTIVE"

    def page_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_page]

    # -- serving ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.public_host}:{self.port}"

    def start(self, port: int = 0, *, host: str = "127.0.0.1", public_host: str = "127.0.0.1") -> FakeMetaAds:
        """Serve on ``host:port``; :attr:`url` names it as ``public_host`` (a container's name)."""
        fake = self
        self.public_host = public_host

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query string carries the access token: never log it

        self._server = LoopbackServer(Handler, port, name="fake-meta-ads", host=host)
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeMetaAds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            form = handler.rfile.read(length).decode() if length else ""
            params |= dict(parse_qsl(form, keep_blank_values=True))
        token = params.pop("access_token", None)
        proof = params.pop("appsecret_proof", None)
        kind, target = self._route(method, split.path)
        with self._lock:
            number = len(self.requests)
            self.requests.append(Request(method, split.path, dict(params), kind))
        status, headers, payload, outcome = 200, {}, {}, "ok"
        try:
            self._check_token(token, proof)
            self._faults_for(kind, params)
            payload = self._answer(kind, target, params)
        except _Fail as fail:
            status, headers, outcome = fail.status, fail.headers, fail.outcome
            payload = {"error": {**fail.error, "fbtrace_id": f"Fake{number:08d}"}}
        with self._lock:
            old = self.requests[number]
            self.requests[number] = Request(old.method, old.path, old.params, old.kind, status, outcome)
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, str]:
        match = _VERSIONED.match(path)
        if not match:
            return "unknown", ""
        parts = [p for p in match["rest"].split("/") if p]
        if len(parts) == 1 and parts[0].startswith("act_") and method == "GET":
            return "account", parts[0][4:]
        if len(parts) == 2 and parts[0].startswith("act_") and parts[1] == "insights":
            return ("insights" if method == "GET" else "job_create"), parts[0][4:]
        if len(parts) == 1 and parts[0].isdigit() and method == "GET":
            return "job_status", parts[0]
        if len(parts) == 2 and parts[0].isdigit() and parts[1] == "insights" and method == "GET":
            return "job_results", parts[0]
        return "unknown", ""

    # -- the API's decisions ---------------------------------------------------------------------
    def _check_token(self, token: str | None, proof: str | None) -> None:
        if token != self.access_token:
            raise _Fail(400, "token", {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException", "code": 190,
            })  # fmt: skip
        if self.faults.token_expired:
            raise _Fail(400, "token", {
                "message": "Error validating access token: Session has expired on Sunday, 06-Dec-26 23:00:00 PST."
                           " The current time is Monday, 07-Dec-26 01:00:00 PST.",
                "type": "OAuthException", "code": 190, "error_subcode": 463,
            })  # fmt: skip
        if self.app_secret is not None and token is not None:
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if proof != expected:
                raise _Fail(400, "token", {
                    "message": "Invalid appsecret_proof provided in the API argument",
                    "type": "GraphMethodException", "code": 100,
                })  # fmt: skip

    def _faults_for(self, kind: str, params: Mapping[str, str]) -> None:
        f = self.faults
        with self._lock:
            if f.rate_limited_calls > 0:
                f.rate_limited_calls -= 1
                subcode, message = RATE_LIMITS[f.rate_limit_code]
                usage = {
                    next(iter(self.accounts), "0"): [
                        {"type": "ads_insights", "call_count": 100, "total_cputime": 42, "total_time": 87,
                         "estimated_time_to_regain_access": f.regain_access_minutes}
                    ]
                }  # fmt: skip
                raise _Fail(
                    400,
                    "rate_limited",
                    {"message": message, "type": "OAuthException", "code": f.rate_limit_code,
                     "error_subcode": subcode, "is_transient": True},
                    {"x-business-use-case-usage": json.dumps(usage)},
                )  # fmt: skip
            if f.transient_errors > 0:
                f.transient_errors -= 1
                raise _Fail(500, "transient", {
                    "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "code": 2, "is_transient": True,
                })  # fmt: skip
            if kind in ("insights", "job_results") and "after" in params and f.cut_pages > 0:
                f.cut_pages -= 1
                raise _Fail(500, "cut", {
                    "message": "An unknown error occurred", "type": "OAuthException", "code": 1,
                    "error_subcode": 99,
                })  # fmt: skip

    def _answer(self, kind: str, target: str, params: Mapping[str, str]) -> dict[str, Any]:
        if kind == "unknown":
            raise _Fail(400, "bad_request", {
                "message": "Unsupported request - method type or path not served by the fake",
                "type": "GraphMethodException", "code": 100,
            })  # fmt: skip
        if kind == "account":
            account = self._account(target)
            everything = {
                "id": f"act_{account.account_id}", "account_id": account.account_id, "name": account.name,
                "currency": account.currency, "timezone_name": account.timezone_name,
            }  # fmt: skip
            wanted = _fields(params.get("fields")) or ("id",)
            return {k: v for k, v in everything.items() if k in wanted or k == "id"}
        if kind == "insights":
            account = self._account(target)
            since, until, fields = self._query(params)
            rows = self.rows(since, until, account_id=account.account_id)
            return self._page(rows, fields, params)
        if kind == "job_create":
            account = self._account(target)
            since, until, fields = self._query(params)
            rows = self.rows(since, until, account_id=account.account_id)
            with self._lock:
                run_id = str(next(self._run_ids))
                self._jobs[run_id] = _Job(run_id, account.account_id, since, until, fields, rows)
            return {"report_run_id": run_id}
        job = self._job(target)
        if kind == "job_status":
            return self._status(job)
        if self._status_of(job)[0] != "Job Completed":
            raise _Fail(400, "bad_request", {
                "message": "Report is not ready yet", "type": "OAuthException", "code": 100, "error_subcode": 1487750,
            })  # fmt: skip
        return self._page(job.rows, job.fields, params)

    def _account(self, account_id: str) -> Account:
        if account_id not in self.accounts:
            raise _Fail(400, "bad_request", {
                "message": f"Unsupported get request. Object with ID 'act_{account_id}' does not exist, cannot be"
                           " loaded due to missing permissions, or does not support this operation.",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33,
            })  # fmt: skip
        return self.accounts[account_id]

    def _job(self, run_id: str) -> _Job:
        if run_id not in self._jobs:
            raise _Fail(400, "bad_request", {
                "message": f"Unsupported get request. Object with ID '{run_id}' does not exist.",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33,
            })  # fmt: skip
        return self._jobs[run_id]

    def _query(self, params: Mapping[str, str]) -> tuple[date, date, tuple[str, ...]]:
        def bad(message: str) -> _Fail:
            return _Fail(400, "bad_request", {"message": f"(#100) {message}", "type": "OAuthException", "code": 100})

        if params.get("level") != "campaign":
            raise bad("level must be campaign (the fake serves campaign-level insights only)")
        if params.get("time_increment") != "1":
            raise bad("time_increment must be 1 (the fake serves daily rows only)")
        try:
            time_range = json.loads(params["time_range"])
            since, until = date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
        except (KeyError, ValueError, TypeError) as e:
            raise bad("time_range must be {'since':YYYY-MM-DD,'until':YYYY-MM-DD}") from e
        if since > until:
            raise bad("time_range: since must not be after until")
        fields = _fields(params.get("fields"))
        unknown = sorted(set(fields) - set(INSIGHT_FIELDS) - {"date_start", "date_stop"})
        if unknown:
            raise bad(f"{unknown[0]} is not valid for fields param")
        return since, until, fields or ("spend",)

    def _page(
        self, rows: list[AdPlatformDailyRow], fields: tuple[str, ...], params: Mapping[str, str]
    ) -> dict[str, Any]:
        size = self.page_size
        if params.get("limit", "").isdigit() and int(params["limit"]) > 0:
            size = min(size, int(params["limit"]))
        start = _decode(params["after"]) if params.get("after") else 0
        chunk = rows[start : start + size]
        out: dict[str, Any] = {"data": [self._row(r, fields) for r in chunk]}
        if chunk:
            out["paging"] = {"cursors": {"before": _encode(start), "after": _encode(start + len(chunk))}}
            if start + len(chunk) < len(rows):
                out["paging"]["next"] = f"{self.url}/{self.version}/next?after={_encode(start + len(chunk))}"
        if start + len(chunk) >= len(rows):
            with self._lock:
                self.completed_pulls += 1
        return out

    def _row(self, r: AdPlatformDailyRow, fields: tuple[str, ...]) -> dict[str, Any]:
        account = self.accounts.get(r.account_id)
        values: dict[str, Any] = {
            "account_id": r.account_id,
            "account_name": account.name if account else r.account_name,
            "campaign_id": r.campaign_id,
            "campaign_name": r.campaign_name,
            "impressions": str(r.impressions),
            "clicks": str(r.clicks),
            "spend": _number(r.cost),
        }
        actions = [{"action_type": "link_click", "value": str(r.clicks)}] if r.clicks else []
        action_values = []
        if r.conversions > 0:
            for action_type in (PURCHASE_ACTION_TYPE, *PURCHASE_ALIASES):
                actions.append({"action_type": action_type, "value": _number(r.conversions)})
                action_values.append({"action_type": action_type, "value": _number(r.conversion_value)})
        if actions:
            values["actions"] = actions
        if action_values:
            values["action_values"] = action_values
        out = {k: v for k, v in values.items() if k in fields}
        return out | {"date_start": r.date.isoformat(), "date_stop": r.date.isoformat()}

    def _status_of(self, job: _Job) -> tuple[str, int]:
        if self.faults.job_failed:
            return "Job Failed", 0
        if self.faults.job_stuck or job.polls <= self.faults.running_polls:
            return "Job Running", 50
        return "Job Completed", 100

    def _status(self, job: _Job) -> dict[str, Any]:
        with self._lock:
            job.polls += 1
        status, percent = self._status_of(job)
        out: dict[str, Any] = {
            "id": job.run_id,
            "account_id": job.account_id,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": job.since.isoformat(),
            "date_stop": job.until.isoformat(),
        }
        if status == "Job Failed":
            out |= {"error_code": 2490547, "error_message": "The report could not be generated (fake)"}
        if status == "Job Completed":
            out["time_completed"] = 1_796_000_000
        return out


def _fields(raw: str | None) -> tuple[str, ...]:
    """`fields` as the SDK sends it: comma-joined on GET, a JSON list on POST."""
    if not raw:
        return ()
    if raw.startswith("["):
        return tuple(str(f) for f in json.loads(raw))
    return tuple(f.strip() for f in raw.split(",") if f.strip())


def _number(value: Decimal | float | int) -> str:
    """A number the way the API writes it: a string, no trailing zeros ("5339.5", "1")."""
    text = format(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["offset"])
    except (ValueError, KeyError, TypeError) as e:
        raise _Fail(
            400, "bad_request", {"message": "(#100) Invalid cursor", "type": "OAuthException", "code": 100}
        ) from e


__all__ = ["PURCHASE_ACTION_TYPE", "VERSION", "Account", "FakeMetaAds", "Faults", "Request", "Restatement"]
