"""Google Ads campaign-level daily metrics into the lake, through the official ``google-ads`` client.

Per customer (account), one run:

1. reads the customer (``SELECT customer.id, customer.descriptive_name, customer.currency_code,
   customer.time_zone FROM customer``), so every row carries the account's name, currency and
   time zone (``segments.date`` is a day in that zone, amounts are in that currency);
2. streams the whole window in one ``GoogleAdsService.SearchStream``: ``SELECT campaign.id,
   campaign.name, campaign.status, metrics.* ..., segments.date FROM campaign WHERE segments.date
   BETWEEN 'first' AND 'last'`` over the lookback window (default :data:`LOOKBACK_DAYS` days ending
   ``end``). Removed campaigns are not filtered out: their spend is real;
3. maps each row onto :class:`~watershed.contract.AdPlatformDailyRow`: ``cost`` =
   ``metrics.cost_micros`` / 1e6 as a Decimal with six decimals (exact: micros are integers),
   ``conversions`` / ``conversion_value`` = ``metrics.conversions`` / ``metrics.conversions_value``
   (doubles; the value with two decimals), dates are ``segments.date`` (the account's time zone);
4. writes every day of the window with :func:`extractors.lake.write_account_day` (bronze: the
   customer response, the query, and each stream batch's rows of that day as received, with the
   batch's number, field mask and request id; silver: the rows). A day without rows is written
   empty, so a restatement to nothing replaces yesterday's rows.

All or nothing: an account's stream is read to its end and mapped before anything of it is
written, so an error writes nothing for that account; each account-day is itself atomic. The run
stops at the first error; accounts finished before it stay written (each complete).

Retries (:class:`RetryPolicy`). The client raises quota errors as
``google.api_core.exceptions.ResourceExhausted`` (its interceptor does not wrap RESOURCE_EXHAUSTED
or INTERNAL into ``GoogleAdsException``), with the ``GoogleAdsFailure`` still in the call's trailing
metadata; both shapes are read:

* QuotaError ``RESOURCE_TEMPORARILY_EXHAUSTED`` (or a RESOURCE_EXHAUSTED without a failure): wait
  ``QuotaErrorDetails.retry_delay`` (``default_rate_limit_wait`` when absent) up to
  ``max_rate_limit_wait`` and ``rate_limit_attempts``;
* QuotaError ``RESOURCE_EXHAUSTED``: the daily operations quota is spent. Not retried
  (:class:`DailyQuotaExhausted`): it resets within 24 hours, sleeping cannot help;
* UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED and a failed token endpoint connection: exponential
  backoff for ``attempts``. A stream cut mid-way is one of these: the whole (customer, window)
  stream is requested again and the partial batches are dropped, so nothing is duplicated;
* authentication / authorization errors (developer token, OAuth, no access to the customer) and a
  rejected refresh token are not retried (:class:`GoogleAdsAuthError`); other API errors (a query
  error) neither (:class:`GoogleAdsError`).

The sleep and clock are injectable; ``RetryPolicy.max_elapsed`` bounds one request's retries by the
clock.

Credentials: the OAuth installed-app flow (``client_id``, ``client_secret``, ``refresh_token``).
``GoogleAdsClient.load_from_dict`` would refresh at load time against a hard-coded
``accounts.google.com`` token URI, so the client is built from the same dict keys here with an
explicit :class:`google.oauth2.credentials.Credentials` whose ``token_uri`` is configurable
(Google's by default; the fake's locally), refreshed once before the first call (a rejected refresh
token is then a clear error, not a gRPC metadata-plugin failure). The developer token, client
secret, refresh token and access token are redacted from every message this module produces, and
errors are raised without the client's exceptions chained to them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeVar

from extractors.lake import Written, extraction_window, write_window
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform
from watershed.settings import Settings

log = logging.getLogger(__name__)

# The newest API version google-ads 34.0.0 ships (it has v23..v26); majors live about a year and
# arrive quarterly from 2026: track Google's sunset dates and upgrade the client with it.
API_VERSION = "v26"
ENDPOINT = "googleads.googleapis.com:443"
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
# Google restates conversions within the conversion window (30 days by default): a conversion
# reported on day D+20 is attributed to the click's day D, so each run re-reads and replaces the
# last 30 days (as Fivetran's and Singer's Google Ads connectors do by default).
LOOKBACK_DAYS = 30
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
CUSTOMER_QUERY = f"SELECT {', '.join(CUSTOMER_FIELDS)} FROM customer"  # noqa: S608 - GAQL of constants
TRANSIENT_STATUS = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})
AUTH_STATUS = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
AUTH_ERRORS = frozenset({"authentication_error", "authorization_error"})
SIX, TWO, MICROS = Decimal("0.000001"), Decimal("0.01"), Decimal(1_000_000)

T = TypeVar("T")


class GoogleAdsError(RuntimeError):
    """An extraction failed; nothing of the failed account was written."""

    report: ExtractReport | None = None


class GoogleAdsAuthError(GoogleAdsError):
    """The developer token, the OAuth credentials or the access to the customer were rejected.
    Not retried: the configuration must change."""


class DailyQuotaExhausted(GoogleAdsError):
    """QuotaError RESOURCE_EXHAUSTED: the developer token's daily operations are spent. Not
    retried: the quota resets within 24 hours."""


class RetriesExhausted(GoogleAdsError):
    """Rate limiting or transient errors outlasted the retry policy."""


NOT_RETRYABLE: tuple[type[GoogleAdsError], ...] = (GoogleAdsAuthError, DailyQuotaExhausted)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # transient errors: tries per request
    backoff: float = 2.0  # first backoff in seconds, doubled each time
    max_backoff: float = 120.0
    rate_limit_attempts: int = 5  # rate-limit waits per request
    default_rate_limit_wait: float = 30.0  # seconds, when the error gives no retry_delay
    max_rate_limit_wait: float = 600.0  # a longer retry_delay fails the run instead of sleeping
    max_elapsed: float = 3600.0  # seconds (by the clock) one request may spend retrying


@dataclass
class ExtractReport:
    days_written: list[Written] = field(default_factory=list)
    rows: int = 0
    api_calls: int = 0  # SearchStream calls attempted, retries included
    retries: int = 0
    waits: list[float] = field(default_factory=list)  # seconds slept for rate limits and backoff
    accounts: list[str] = field(default_factory=list)  # accounts fully written
    token_refreshes: int = 0


def extract(
    settings: Settings,
    *,
    account_ids: Sequence[str],
    config: Mapping[str, Any],
    end: date,
    lookback: int = LOOKBACK_DAYS,
    days: Sequence[date] | None = None,
    api_version: str = API_VERSION,
    retry: RetryPolicy = RetryPolicy(),
    request_timeout: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExtractReport:
    """Extract the days of ``lookback_days(end, lookback)`` (or the contiguous ``days``) for each
    customer id (digits, dashes allowed) and replace them in the lake.

    ``config`` has the google-ads configuration keys: ``developer_token``, ``client_id``,
    ``client_secret``, ``refresh_token``, optional ``login_customer_id`` (a manager account),
    ``endpoint`` (``host:port``, Google's by default) and ``token_uri`` (Google's by default)."""
    window = extraction_window(end, lookback, days)
    report = ExtractReport()
    run = _Run(config, api_version=api_version, retry=retry, sleep=sleep, clock=clock, timeout=request_timeout)
    try:
        run.connect()
        for raw in account_ids:
            customer_id = raw.replace("-", "")
            pulled = run.pull(customer_id, window)
            written, rows = write_window(settings, Platform.GOOGLE_ADS, customer_id, pulled)
            report.days_written += written
            report.rows += rows
            report.accounts.append(customer_id)
            log.info("google_ads: customer %s, %s..%s: %d rows", customer_id, window[0], window[-1], report.rows)
    except GoogleAdsError as e:
        e.report = report
        raise
    finally:
        run.close()
        report.api_calls, report.retries, report.waits = run.calls, run.retries, run.waits
        report.token_refreshes = run.refreshes
    return report


def client_from_config(config: Mapping[str, Any], credentials: Any, api_version: str = API_VERSION) -> Any:
    """The official ``GoogleAdsClient`` for ``config``'s developer token, endpoint and login
    customer, with ``credentials``, proto-plus messages and the pinned API version."""
    from google.ads.googleads.client import GoogleAdsClient

    login = config.get("login_customer_id")
    return GoogleAdsClient(
        credentials=credentials,
        developer_token=str(config["developer_token"]),
        endpoint=config.get("endpoint") or ENDPOINT,
        login_customer_id=str(login).replace("-", "") if login else None,
        version=api_version,
        use_proto_plus=True,
    )


def campaign_query(first: date, last: date) -> str:
    """The GAQL of the daily campaign rows of ``first..last`` (constants and ISO dates only)."""
    between = f"segments.date BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'"
    return f"SELECT {', '.join(CAMPAIGN_FIELDS)} FROM campaign WHERE {between}"  # noqa: S608 - not SQL, no input


class _Run:
    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        api_version: str,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        timeout: float,
    ):
        missing = [k for k in ("developer_token", "client_id", "client_secret", "refresh_token") if not config.get(k)]
        if missing:
            raise GoogleAdsAuthError(f"Google Ads: no {', '.join(missing)} configured")
        self.config, self.api_version = config, api_version
        self.retry, self.sleep, self.clock, self.timeout = retry, sleep, clock, timeout
        self._secrets = [str(config[k]) for k in ("developer_token", "client_secret", "refresh_token")]
        self.calls = self.retries = self.refreshes = 0
        self.waits: list[float] = []
        self.service: Any = None
        self.credentials: Any = None

    def connect(self) -> None:
        from google.oauth2.credentials import Credentials

        self.credentials = Credentials(
            token=None,
            refresh_token=str(self.config["refresh_token"]),
            client_id=str(self.config["client_id"]),
            client_secret=str(self.config["client_secret"]),
            token_uri=self.config.get("token_uri") or TOKEN_URI,
        )
        self._call(self._refresh, "refreshing the OAuth access token")
        client = client_from_config(self.config, self.credentials, self.api_version)
        self.service = client.get_service("GoogleAdsService", version=self.api_version)

    def _refresh(self) -> None:
        from google.auth.transport.requests import Request

        self.refreshes += 1
        self.credentials.refresh(Request())
        if self.credentials.token:
            self._secrets.append(self.credentials.token)

    def close(self) -> None:
        if self.service is not None:
            self.service.transport.close()
            self.service = None

    # -- one account -------------------------------------------------------------------------------
    def pull(self, customer_id: str, window: list[date]) -> dict[date, tuple[list[Any], list[AdPlatformDailyRow]]]:
        if not customer_id.isdigit():
            raise GoogleAdsError(f"Google Ads customer id {customer_id!r}: expected digits (dashes allowed)")
        customer_batches = self._call(
            lambda: self._stream(customer_id, CUSTOMER_QUERY), f"reading customer {customer_id}"
        )
        customers = [row.customer for batch in customer_batches for row in batch.results]
        if len(customers) != 1 or not all(
            (customers[0].descriptive_name, customers[0].currency_code, customers[0].time_zone)
        ):
            raise GoogleAdsError(f"Google Ads customer {customer_id}: the API returned no name, currency or time zone")
        customer = customers[0]
        query = campaign_query(window[0], window[-1])
        batches = self._call(
            lambda: self._stream(customer_id, query),
            f"streaming the campaigns of customer {customer_id}, {window[0]}..{window[-1]}",
        )
        head = [{"customer": _dict(b)} for b in customer_batches]
        head.append({"query": {"customer_id": customer_id, "gaql": query}})
        by_day: dict[date, tuple[list[Any], list[AdPlatformDailyRow]]] = {d: (list(head), []) for d in window}
        seen: set[tuple[date, str]] = set()
        for number, batch in enumerate(batches):
            slices: dict[date, list[dict[str, Any]]] = {}
            for raw in batch.results:
                row = _row(raw, customer_id, customer)
                if row.date not in by_day:
                    raise GoogleAdsError(
                        f"Google Ads customer {customer_id}: a row of {row.date}, outside {window[0]}..{window[-1]}"
                    )
                if (row.date, row.campaign_id) in seen:
                    raise GoogleAdsError(
                        f"Google Ads customer {customer_id}: campaign {row.campaign_id} twice on {row.date}"
                    )
                seen.add((row.date, row.campaign_id))
                by_day[row.date][1].append(row)
                slices.setdefault(row.date, []).append(_dict(raw))
            # each day keeps its own rows of the batch as received, with the batch's other fields
            rest = _dict(type(batch)(field_mask=batch.field_mask, request_id=batch.request_id))
            for d, results in slices.items():
                by_day[d][0].append({"search_stream_batch": {**rest, "batch": number, "results": results}})
        return by_day

    def _stream(self, customer_id: str, query: str) -> list[Any]:
        """One SearchStream read to its end (a cut raises: the caller requests the whole stream again)."""
        self.calls += 1
        return list(self.service.search_stream(customer_id=customer_id, query=query, timeout=self.timeout))

    # -- retries -----------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], what: str) -> T:
        """`fn()` with the retry policy. Errors are raised outside the ``except`` blocks, so they
        carry no ``__context__`` (the client's exceptions hold the call and its metadata)."""
        transient = rate_limited = 0
        started = self.clock()
        while True:
            error: GoogleAdsError | None = None
            wait = 0.0
            try:
                return fn()
            except Exception as e:  # classified below; anything unknown is re-raised as it is
                kind, detail, delay = _classify(e)
                if kind == "unknown":
                    raise
            detail = f"{what}: {detail}"
            if kind == "auth":
                error = GoogleAdsAuthError(
                    f"Google Ads rejected the credentials ({detail}); not retried: check the developer token,"
                    " the OAuth client and refresh token, and the access to the customer"
                )
            elif kind == "daily_quota":
                error = DailyQuotaExhausted(
                    f"Google Ads daily quota exhausted ({detail}); not retried: the quota resets within 24 hours"
                )
            elif kind == "rate_limited":
                rate_limited += 1
                wait = self.retry.default_rate_limit_wait if delay is None else delay
                if rate_limited > self.retry.rate_limit_attempts or wait > self.retry.max_rate_limit_wait:
                    error = RetriesExhausted(f"Google Ads rate limited {rate_limited} time(s), {detail}")
            elif kind == "transient":
                transient += 1
                wait = min(self.retry.backoff * 2 ** (transient - 1), self.retry.max_backoff)
                if transient >= self.retry.attempts:
                    error = RetriesExhausted(f"Google Ads gave up after {transient} attempts, {detail}")
            else:
                error = GoogleAdsError(f"Google Ads request failed, {detail}")
            if error is None and self.clock() - started + wait > self.retry.max_elapsed:
                error = RetriesExhausted(f"Google Ads retries would pass {self.retry.max_elapsed:g}s, {detail}")
            if error is not None:
                raise type(error)(self._redact(str(error)))
            log.warning("google_ads: %s (%s), retrying in %.1fs", kind.replace("_", " "), self._redact(detail), wait)
            self.retries += 1
            self.waits.append(wait)
            self.sleep(wait)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text


def _classify(e: BaseException) -> tuple[str, str, float | None]:
    """(kind, detail, retry delay in seconds) of an error of the client, the token refresh or gRPC.
    kind: "auth", "daily_quota", "rate_limited", "transient", "failed" or "unknown"."""
    import grpc
    from google.ads.googleads.errors import GoogleAdsException
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    if isinstance(e, auth.RefreshError):
        return "auth", f"the token endpoint refused the refresh: {e.args[0] if e.args else type(e).__name__}", None
    if isinstance(e, auth.TransportError):
        return "transient", f"the token endpoint could not be reached: {type(e).__name__}", None
    if isinstance(e, GoogleAdsException):
        status, failure, request_id = e.error.code().name, e.failure, e.request_id
        message = ""
    elif isinstance(e, api.GoogleAPICallError):
        grpc_status = e.grpc_status_code
        status = grpc_status.name if grpc_status is not None else str(e.code)
        failure, request_id = _failure_of(e.response)
        message = e.message
    elif isinstance(e, grpc.RpcError) and callable(getattr(e, "code", None)):
        status = e.code().name
        failure, request_id = _failure_of(e)
        message = str(getattr(e, "details", lambda: "")())
    else:
        return "unknown", f"{type(e).__name__}", None

    errors = list(failure.errors) if failure is not None else []
    codes = [_error_code(err) for err in errors]
    text = "; ".join(f"{k} {v}: {err.message}" for (k, v), err in zip(codes, errors, strict=True)) or message
    detail = f"{status}, {text}" + (f" (request {request_id})" if request_id else "")
    quota = [v for k, v in codes if k == "quota_error"]
    if "RESOURCE_EXHAUSTED" in quota:
        return "daily_quota", detail, None
    if "RESOURCE_TEMPORARILY_EXHAUSTED" in quota or (status == "RESOURCE_EXHAUSTED" and not quota):
        return "rate_limited", detail, _retry_delay(errors)
    if status in AUTH_STATUS or any(k in AUTH_ERRORS for k, _ in codes):
        return "auth", detail, None
    if status in TRANSIENT_STATUS and not any(k not in ("internal_error",) for k, _ in codes):
        return "transient", detail, None
    return "failed", detail, None


def _failure_of(call: Any) -> tuple[Any, str | None]:
    """The GoogleAdsFailure and request id in a failed call's trailing metadata, when there."""
    from importlib import import_module

    try:
        metadata = call.trailing_metadata() or ()
    except Exception:  # not a grpc.Call
        return None, None
    failure = request_id = None
    for key, value in metadata:
        if key == "request-id":
            request_id = str(value)
        elif key.endswith(".errors.googleadsfailure-bin"):
            version = key.split(".")[3]  # google.ads.googleads.<version>.errors.googleadsfailure-bin
            errors = import_module(f"google.ads.googleads.{version}.errors.types.errors")
            try:
                failure = errors.GoogleAdsFailure.deserialize(value)
            except Exception:  # an unreadable failure: classified by the status alone
                failure = None
    return failure, request_id


def _error_code(error: Any) -> tuple[str, str]:
    """("quota_error", "RESOURCE_EXHAUSTED") of a GoogleAdsError's error_code oneof."""
    code = error.error_code
    kind = type(code).pb(code).WhichOneof("error_code") or "unknown"
    value = getattr(code, kind, None) if kind != "unknown" else None
    return kind, getattr(value, "name", str(value))


def _retry_delay(errors: Sequence[Any]) -> float | None:
    for error in errors:
        if "details" in error and "quota_error_details" in error.details:
            details = error.details.quota_error_details
            if "retry_delay" in details:
                return float(details.retry_delay.total_seconds())
    return None


def _dict(message: Any) -> dict[str, Any]:
    """A proto-plus message as JSON-able data, enums by name (bronze)."""
    return dict(type(message).to_dict(message, use_integers_for_enums=False, preserving_proto_field_name=True))


def _row(raw: Any, customer_id: str, customer: Any) -> AdPlatformDailyRow:
    campaign, metrics = raw.campaign, raw.metrics
    prefix = f"customers/{customer_id}/campaigns/"
    if campaign.resource_name and not campaign.resource_name.startswith(prefix):
        raise GoogleAdsError(f"Google Ads returned campaign {campaign.resource_name} for customer {customer_id}")
    try:
        value = Decimal(repr(float(metrics.conversions_value)))
        return AdPlatformDailyRow(
            date=date.fromisoformat(raw.segments.date),
            platform=Platform.GOOGLE_ADS,
            account_id=customer_id,
            account_name=customer.descriptive_name,
            campaign_id=str(campaign.id),
            campaign_name=campaign.name or str(campaign.id),
            impressions=int(metrics.impressions),
            clicks=int(metrics.clicks),
            cost=(Decimal(int(metrics.cost_micros)) / MICROS).quantize(SIX, ROUND_HALF_EVEN),
            conversions=float(metrics.conversions),
            conversion_value=value.quantize(TWO, ROUND_HALF_EVEN),
            currency=customer.currency_code,
            time_zone=customer.time_zone,
        )
    except (ValueError, InvalidOperation) as e:
        raise GoogleAdsError(f"Google Ads returned a row that does not fit the contract: {e}") from None
