"""A fake Google Ads API: ``GoogleAdsService/SearchStream`` over real TLS gRPC, serving the
simulated world's google_ads campaign rows, with the faults an extractor must survive, plus the
OAuth token endpoint the client refreshes its access token at.

The official ``google-ads`` client talks to it unchanged (``GoogleAdsClient(endpoint=
"localhost:<port>")``): the client has no plaintext channel, so the server presents a certificate
for ``localhost`` signed by the process's fake CA (:mod:`simulator.fakes.tls`), which the client
trusts through ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``. Messages are (de)serialised with the package's
own proto-plus types of the pinned API version (:data:`VERSION`), so the wire format is the
client's.

What it understands, as the real API does:

* GAQL ``SELECT <fields> FROM campaign WHERE segments.date BETWEEN 'A' AND 'B'`` (the fields of
  :data:`CAMPAIGN_FIELDS`; a ``segments.date`` select without the date filter is a QueryError
  ``EXPECTED_FILTERS_ON_DATE_RANGE``) and ``SELECT customer.<field>, ... FROM customer`` (one row:
  id, descriptive name, currency, time zone);
* the ``developer-token`` and ``authorization: Bearer`` headers and the customer id (digits only),
  rejected as the API does (AuthenticationError / AuthorizationError / RequestError in the
  ``googleadsfailure-bin`` trailing metadata);
* rows streamed in batches of ``batch_size`` (the real API uses 10,000), each response with the
  field mask of the selected fields;
* ``POST /token`` on :attr:`FakeGoogleAds.token_uri` (plain HTTP on 127.0.0.1): the OAuth
  ``refresh_token`` grant with the configured client id, secret and refresh token returns the
  access token the gRPC side accepts; anything else is ``400 invalid_grant`` / ``invalid_client``,
  as Google's token endpoint answers.

Faults (:class:`Faults`, per instance): rate limiting (RESOURCE_EXHAUSTED + QuotaError
RESOURCE_TEMPORARILY_EXHAUSTED with ``QuotaErrorDetails.retry_delay``) for the first N calls, the
daily quota spent (QuotaError RESOURCE_EXHAUSTED, no retry delay) for every call, transient
UNAVAILABLE / INTERNAL, a stream cut after its first batch, restated conversions from a later pull
on, removed campaigns (status REMOVED, metrics still reported), a revoked refresh token and a token
endpoint error quoting the request (secrets included). Every
call is recorded (:attr:`FakeGoogleAds.calls`, :attr:`FakeGoogleAds.token_requests`) and
:meth:`FakeGoogleAds.rows` returns what it serves: the truth.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from simulator.fakes.http import LoopbackServer
from simulator.fakes.truth import ServedRows
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform

# The API version served: the newest google-ads 34.0.0 ships (v23..v26); extractors/google_ads.py
# pins the same. The imports below name it too (google.ads.googleads.v26.*): change them together.
VERSION = "v26"
SERVICE = f"google.ads.googleads.{VERSION}.services.GoogleAdsService"
FAILURE_KEY = f"google.ads.googleads.{VERSION}.errors.googleadsfailure-bin"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"

CAMPAIGN_FIELDS = (
    "campaign.id",
    "campaign.name",
    "campaign.status",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.cost_micros",
    "metrics.conversions",
    "metrics.conversions_value",
    "segments.date",
)
CUSTOMER_FIELDS = ("customer.id", "customer.descriptive_name", "customer.currency_code", "customer.time_zone")

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>[a-z_]+)(?:\s+WHERE\s+(?P<where>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_BETWEEN = re.compile(
    r"^segments\.date\s+BETWEEN\s+'(?P<start>\d{4}-\d{2}-\d{2})'\s+AND\s+'(?P<end>\d{4}-\d{2}-\d{2})'$",
    re.IGNORECASE,
)
_CUT = "Connection reset by peer (fake: the stream was cut)"


@dataclass(frozen=True)
class Restatement:
    """From the `after_pulls`+1-th completed campaign pull on, a (day, campaign) reports these
    conversions instead (the platform attributing late conversions to an earlier day)."""

    day: date
    campaign_id: str
    conversions: float
    conversion_value: Decimal
    after_pulls: int = 1


@dataclass
class Faults:
    rate_limited_calls: int = 0  # the first N calls: RESOURCE_EXHAUSTED with retry_delay
    retry_delay_seconds: int = 7
    daily_quota_exhausted: bool = False  # every call: QuotaError RESOURCE_EXHAUSTED, no retry delay
    transient: Sequence[str] = ()  # after any rate limiting, the next calls fail: "UNAVAILABLE" / "INTERNAL"
    cut_streams: int = 0  # the first N campaign pulls stop (UNAVAILABLE) after their first batch
    restatements: Sequence[Restatement] = ()
    removed_campaigns: frozenset[str] = frozenset()  # status REMOVED, metrics still reported
    refresh_token_revoked: bool = False  # the token endpoint answers invalid_grant
    token_error_echoes_request: bool = False  # the token endpoint's 400 quotes the form, secrets included


@dataclass(frozen=True)
class Call:
    """One SearchStream request as received (the headers the fake checks included)."""

    customer_id: str
    query: str
    developer_token: str | None
    authorization: str | None
    login_customer_id: str | None
    outcome: str = "ok"  # "ok", "cut", or the status code name it failed with
    batches: int = 0  # responses sent

    @property
    def resource(self) -> str:
        match = _QUERY.match(self.query)
        return match["resource"].lower() if match else ""


@dataclass(frozen=True)
class TokenRequest:
    """One POST to the token endpoint, without the client secret and refresh token."""

    grant_type: str | None
    client_id: str | None
    status: int


@dataclass(frozen=True)
class Account:
    customer_id: str
    descriptive_name: str
    time_zone: str
    currency_code: str


class _Abort(Exception):
    def __init__(self, code: Any, message: str, failure: Any | None = None, outcome: str | None = None):
        super().__init__(message)
        self.code, self.message, self.failure = code, message, failure
        self.outcome = outcome or code.name


class FakeGoogleAds(ServedRows):
    """The fake server. ``with FakeGoogleAds(rows) as fake:`` serves gRPC on ``fake.endpoint``
    (``localhost:<port>``) and the token endpoint on ``fake.token_uri`` until the block ends."""

    def __init__(
        self,
        rows: Iterable[AdPlatformDailyRow | Mapping[str, Any]],
        *,
        accounts: Iterable[Account] | None = None,
        developer_token: str = "fake-developer-token",  # noqa: S107  # pragma: allowlist secret
        access_token: str = "fake-access-token",  # noqa: S107  # pragma: allowlist secret
        client_id: str = "fake-client-id.apps.googleusercontent.com",
        client_secret: str = "fake-client-secret",  # noqa: S107  # pragma: allowlist secret
        refresh_token: str = "fake-refresh-token",  # noqa: S107  # pragma: allowlist secret
        batch_size: int = 10_000,
        faults: Faults | None = None,
    ):
        from simulator.world import ACCOUNTS

        parsed = [r if isinstance(r, AdPlatformDailyRow) else AdPlatformDailyRow.model_validate(dict(r)) for r in rows]
        if accounts is None:
            cid, name, tz, currency = ACCOUNTS[Platform.GOOGLE_ADS]
            accounts = [Account(cid, name, tz, currency)]
        self.accounts: dict[str, Account] = {a.customer_id: a for a in accounts}
        self._rows = sorted(
            (r for r in parsed if r.platform == Platform.GOOGLE_ADS),
            key=lambda r: (r.account_id, r.date, r.campaign_id),
        )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {batch_size})")
        self.developer_token, self.access_token = developer_token, access_token
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.batch_size = batch_size
        self.faults = faults or Faults()
        self.calls: list[Call] = []
        self.token_requests: list[TokenRequest] = []
        self.completed_pulls = 0  # campaign pulls streamed to the end
        self._lock = threading.Lock()
        self._server: Any = None
        self._http: LoopbackServer | None = None
        self.port = 0
        self.token_port = 0
        self.public_host = "localhost"

    # -- the truth: rows() and write_truth() come from ServedRows ----------------------------------

    def status(self, campaign_id: str) -> str:
        return "REMOVED" if campaign_id in self.faults.removed_campaigns else "ENABLED"

    def campaign_calls(self) -> list[Call]:
        return [c for c in self.calls if c.resource == "campaign"]

    # -- serving ---------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"{self.public_host}:{self.port}"

    @property
    def token_uri(self) -> str:
        host = "127.0.0.1" if self.public_host == "localhost" else self.public_host
        return f"http://{host}:{self.token_port}/token"

    def start(
        self,
        port: int = 0,
        token_port: int = 0,
        *,
        host: str = "127.0.0.1",
        public_host: str = "localhost",
        tls_dir: Path | None = None,
    ) -> FakeGoogleAds:
        """Serve gRPC on ``port`` and the token endpoint on ``token_port`` (0: free ports), bound
        to ``host``; the certificate and :attr:`endpoint` name ``public_host`` (a container's name
        in compose), its files in ``tls_dir`` (a temporary folder by default)."""
        import grpc
        from google.ads.googleads.v26.services.types.google_ads_service import (
            SearchGoogleAdsStreamRequest,
            SearchGoogleAdsStreamResponse,
        )

        from simulator.fakes.tls import trust_for_grpc

        self.public_host = public_host
        certs = trust_for_grpc(tls_dir, names=(public_host,))
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "SearchStream": grpc.unary_stream_rpc_method_handler(
                    self._search_stream,
                    request_deserializer=SearchGoogleAdsStreamRequest.deserialize,
                    response_serializer=SearchGoogleAdsStreamResponse.serialize,
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        credentials = grpc.ssl_server_credentials([(certs.key_pem, certs.cert_pem)])
        self.port = server.add_secure_port(f"{host}:{port}", credentials)
        server.start()
        self._server = server
        self._start_token_endpoint(token_port, host)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> FakeGoogleAds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the token endpoint ----------------------------------------------------------------------
    def _start_token_endpoint(self, port: int, host: str) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode() if length else ""))
                status, payload = fake._token(self.path, form)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = LoopbackServer(Handler, port, name="fake-google-oauth", host=host)
        self.token_port = self._http.port

    def _token(self, path: str, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        status, payload = (
            200,
            {
                "access_token": self.access_token,
                "expires_in": 3599,
                "scope": ADWORDS_SCOPE,
                "token_type": "Bearer",
            },
        )
        if path.split("?")[0] != "/token":
            status, payload = 404, {"error": "not_found"}
        elif form.get("grant_type") != "refresh_token":
            status, payload = 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        elif (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            status, payload = 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        elif form.get("refresh_token") != self.refresh_token or self.faults.refresh_token_revoked:
            status, payload = 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        if self.faults.token_error_echoes_request:  # a misbehaving proxy: an extractor must redact
            status, payload = 400, {"error": "invalid_request", "error_description": f"Bad request: {dict(form)}"}
        with self._lock:
            self.token_requests.append(TokenRequest(form.get("grant_type"), form.get("client_id"), status))
        return status, payload

    # -- SearchStream ----------------------------------------------------------------------------
    def _search_stream(self, request: Any, context: Any) -> Iterator[Any]:
        metadata: Mapping[str, str] = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        call = Call(
            customer_id=request.customer_id,
            query=request.query,
            developer_token=metadata.get("developer-token"),
            authorization=metadata.get("authorization"),
            login_customer_id=metadata.get("login-customer-id"),
        )
        with self._lock:
            number = len(self.calls)
            self.calls.append(call)
        sent = 0
        try:
            resource, responses = self._answer(number, call)
            cut = resource == "campaign" and self._take_cut()
            for i, response in enumerate(responses):
                if cut and i == 1:
                    raise _Abort(_status("UNAVAILABLE"), _CUT, outcome="cut")
                yield response
                sent += 1
            if cut:  # a single batch: cut after it, before the stream's end
                raise _Abort(_status("UNAVAILABLE"), _CUT, outcome="cut")
            if resource == "campaign":
                with self._lock:
                    self.completed_pulls += 1
            self._record(number, "ok", sent)
        except _Abort as abort:
            self._record(number, abort.outcome, sent)
            trailing: list[tuple[str, str | bytes]] = [("request-id", f"fake-{number}")]
            if abort.failure is not None:
                from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

                abort.failure.request_id = f"fake-{number}"
                trailing.append((FAILURE_KEY, GoogleAdsFailure.serialize(abort.failure)))
            context.set_trailing_metadata(trailing)
            context.abort(abort.code, abort.message)

    def _record(self, number: int, outcome: str, batches: int) -> None:
        with self._lock:
            self.calls[number] = replace(self.calls[number], outcome=outcome, batches=batches)

    def _take_cut(self) -> bool:
        with self._lock:
            if self.faults.cut_streams > 0:
                self.faults.cut_streams -= 1
                return True
            return False

    # -- the API's decisions ---------------------------------------------------------------------
    def _answer(self, number: int, call: Call) -> tuple[str, list[Any]]:
        from google.ads.googleads.v26.errors.types.authentication_error import AuthenticationErrorEnum
        from google.ads.googleads.v26.errors.types.authorization_error import AuthorizationErrorEnum
        from google.ads.googleads.v26.errors.types.query_error import QueryErrorEnum
        from google.ads.googleads.v26.errors.types.request_error import RequestErrorEnum

        authn = AuthenticationErrorEnum.AuthenticationError
        query_error = QueryErrorEnum.QueryError
        if call.developer_token is None or call.developer_token != self.developer_token:
            failure = _failure(
                "authentication_error", authn.DEVELOPER_TOKEN_INVALID, "The developer token is not valid."
            )
            raise _Abort(_status("UNAUTHENTICATED"), "Request is missing required authentication credential.", failure)
        if call.authorization != f"Bearer {self.access_token}":
            failure = _failure("authentication_error", authn.OAUTH_TOKEN_INVALID, "Oauth token is invalid.")
            raise _Abort(_status("UNAUTHENTICATED"), "Request had invalid authentication credentials.", failure)
        if not call.customer_id.isdigit():
            failure = _failure(
                "request_error",
                RequestErrorEnum.RequestError.INVALID_CUSTOMER_ID,
                "Invalid customer ID (10 digits, no dashes).",
            )
            raise _Abort(_status("INVALID_ARGUMENT"), "Request contains an invalid argument.", failure)
        if call.customer_id not in self.accounts:
            failure = _failure(
                "authorization_error",
                AuthorizationErrorEnum.AuthorizationError.USER_PERMISSION_DENIED,
                "User doesn't have permission to access customer.",
            )
            raise _Abort(_status("PERMISSION_DENIED"), "The caller does not have permission", failure)
        self._quota_and_transient(number)
        match = _QUERY.match(call.query)
        if not match:
            raise _query_error(query_error.UNEXPECTED_END_OF_QUERY, "Error in query: unexpected input.")
        fields = [f.strip() for f in match["fields"].split(",")]
        resource, where = match["resource"].lower(), (match["where"] or "").strip()
        allowed = CUSTOMER_FIELDS if resource == "customer" else CAMPAIGN_FIELDS if resource == "campaign" else ()
        if not allowed:
            raise _query_error(
                query_error.BAD_RESOURCE_TYPE_IN_FROM_CLAUSE,
                f"Error in FROM clause: invalid resource name '{resource}'.",
            )
        unknown = [f for f in fields if f not in allowed]
        if unknown:
            raise _query_error(query_error.UNRECOGNIZED_FIELD, f"Unrecognized field in the query: '{unknown[0]}'.")
        account = self.accounts[call.customer_id]
        if resource == "customer":
            if where:
                raise _query_error(query_error.UNEXPECTED_INPUT, "The fake serves unfiltered customer queries only.")
            return resource, self._batches([self._customer_row(account)], fields)
        between = _BETWEEN.match(where) if where else None
        if between is None:
            if "segments.date" in fields:
                raise _query_error(
                    query_error.EXPECTED_FILTERS_ON_DATE_RANGE,
                    "Error in query: a date range filter is expected when segments.date is selected.",
                )
            raise _query_error(query_error.UNEXPECTED_INPUT, "The fake serves segments.date BETWEEN filters only.")
        start, end = date.fromisoformat(between["start"]), date.fromisoformat(between["end"])
        if end < start:
            raise _query_error(query_error.INVALID_VALUE_WITH_BETWEEN_OPERATOR, "The date range ends before it starts.")
        rows = self.rows(start, end, account_id=account.customer_id)
        return resource, self._batches([self._campaign_row(r) for r in rows], fields)

    def _quota_and_transient(self, number: int) -> None:
        from google.ads.googleads.v26.errors.types.quota_error import QuotaErrorEnum

        faults = self.faults
        exhausted = "Resource has been exhausted (e.g. check quota)."
        if faults.daily_quota_exhausted:
            failure = _failure(
                "quota_error",
                QuotaErrorEnum.QuotaError.RESOURCE_EXHAUSTED,
                "Too many requests. Retry in 86400 seconds.",
                rate_scope="DEVELOPER",
                rate_name="Number of operations for basic access",
            )
            raise _Abort(_status("RESOURCE_EXHAUSTED"), exhausted, failure)
        if number < faults.rate_limited_calls:
            failure = _failure(
                "quota_error",
                QuotaErrorEnum.QuotaError.RESOURCE_TEMPORARILY_EXHAUSTED,
                f"Too many requests. Retry in {faults.retry_delay_seconds} seconds.",
                rate_scope="DEVELOPER",
                rate_name="Requests per developer per minute",
                retry_delay=faults.retry_delay_seconds,
            )
            raise _Abort(_status("RESOURCE_EXHAUSTED"), exhausted, failure)
        transient = number - faults.rate_limited_calls
        if 0 <= transient < len(faults.transient):
            name = faults.transient[transient]
            messages = {
                "UNAVAILABLE": "The service is currently unavailable.",
                "INTERNAL": "Internal error encountered.",
            }
            raise _Abort(_status(name), messages.get(name, name))

    def _customer_row(self, account: Account) -> Any:
        from google.ads.googleads.v26.resources.types.customer import Customer
        from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow

        customer = Customer(
            resource_name=f"customers/{account.customer_id}",
            id=int(account.customer_id),
            descriptive_name=account.descriptive_name,
            currency_code=account.currency_code,
            time_zone=account.time_zone,
        )
        return GoogleAdsRow(customer=customer)

    def _campaign_row(self, r: AdPlatformDailyRow) -> Any:
        from google.ads.googleads.v26.common.types.metrics import Metrics
        from google.ads.googleads.v26.common.types.segments import Segments
        from google.ads.googleads.v26.enums.types.campaign_status import CampaignStatusEnum
        from google.ads.googleads.v26.resources.types.campaign import Campaign
        from google.ads.googleads.v26.services.types.google_ads_service import GoogleAdsRow

        status = getattr(CampaignStatusEnum.CampaignStatus, self.status(r.campaign_id))
        return GoogleAdsRow(
            campaign=Campaign(
                resource_name=f"customers/{r.account_id}/campaigns/{r.campaign_id}",
                id=int(r.campaign_id) if r.campaign_id.isdigit() else 0,
                name=r.campaign_name,
                status=status,
            ),
            metrics=Metrics(
                impressions=r.impressions,
                clicks=r.clicks,
                cost_micros=int(r.cost * 1_000_000),
                conversions=float(r.conversions),
                conversions_value=float(r.conversion_value),
            ),
            segments=Segments(date=r.date.isoformat()),
        )

    def _batches(self, rows: list[Any], fields: list[str]) -> list[Any]:
        from google.ads.googleads.v26.services.types.google_ads_service import SearchGoogleAdsStreamResponse
        from google.protobuf.field_mask_pb2 import FieldMask

        mask = FieldMask(paths=fields)
        chunks = [rows[i : i + self.batch_size] for i in range(0, len(rows), self.batch_size)] or [[]]
        return [
            SearchGoogleAdsStreamResponse(results=chunk, field_mask=mask, request_id=f"fake-batch-{n}")
            for n, chunk in enumerate(chunks)
        ]


def _status(name: str) -> Any:
    import grpc

    return grpc.StatusCode[name]


def _failure(
    kind: str,
    code: Any,
    message: str,
    *,
    rate_scope: str | None = None,
    rate_name: str | None = None,
    retry_delay: int | None = None,
) -> Any:
    from google.ads.googleads.v26.errors.types.errors import (
        ErrorCode,
        ErrorDetails,
        GoogleAdsError,
        GoogleAdsFailure,
        QuotaErrorDetails,
    )
    from google.protobuf.duration_pb2 import Duration

    error = GoogleAdsError(error_code=ErrorCode(**{kind: code}), message=message)
    if rate_scope is not None:
        scope = getattr(QuotaErrorDetails.QuotaRateScope, rate_scope)
        details = QuotaErrorDetails(rate_scope=scope, rate_name=rate_name or "")
        if retry_delay is not None:
            details.retry_delay = Duration(seconds=retry_delay)
        error.details = ErrorDetails(quota_error_details=details)
    return GoogleAdsFailure(errors=[error])


def _query_error(code: Any, message: str) -> _Abort:
    return _Abort(
        _status("INVALID_ARGUMENT"), "Request contains an invalid argument.", _failure("query_error", code, message)
    )
