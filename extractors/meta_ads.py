"""Meta Ads (Marketing API) campaign-level daily insights into the lake, through ``facebook-business``.

Per ad account, one run:

1. reads the account (``GET act_<id>/``: name, currency, time zone), so every row carries the
   account's name, currency and time zone (``date_start`` is a day in that zone);
2. starts one async insights job for the whole window (``level=campaign``, ``time_increment=1``,
   ``time_range`` = the lookback window, default :data:`LOOKBACK_DAYS` days ending ``end``: Meta
   restates recent days, so each run re-extracts and replaces them), polls it (``api_get``,
   comparing ``async_status == "Job Completed"``: ``bool(job)`` is unreliable on Python 3) within
   ``job_timeout`` seconds, and reads the result pages with the SDK :class:`Cursor`;
3. maps each row onto :class:`~watershed.contract.AdPlatformDailyRow`: ``cost`` is ``spend`` with
   six decimals, ``conversions`` / ``conversion_value`` come from exactly one action type,
   :data:`PURCHASE_ACTION_TYPE` (``actions`` repeats the same purchases under aliases such as
   ``omni_purchase``; summing them would double count), 0 when absent;
4. writes every day of the window with :func:`extractors.lake.write_account_day` (bronze: the
   account response, the final job status and the result pages that hold the day's rows, whole and
   as received; silver: the rows). A day without rows is written empty: "no delivery" is a fact,
   and a restatement to nothing must replace yesterday's rows.

All or nothing: an account's pages are all fetched and mapped before anything of it is written,
so an error (token, job failed or timed out, retries exhausted, a malformed row) writes nothing for
that account; each account-day is itself atomic (write_account_day). The run stops at the first
error; accounts finished before it stay written (each complete), and the next run's lookback
replaces them anyway.

Retries: rate limits (codes 4, 17, 32, 613, 80000-80014) wait ``estimated_time_to_regain_access``
(minutes, the largest in ``x-business-use-case-usage``; :attr:`RetryPolicy.default_rate_limit_wait`
when absent) up to ``max_rate_limit_wait`` and ``rate_limit_attempts``; transient errors (HTTP 5xx,
``is_transient``, codes 1/2, connection errors) back off exponentially for ``attempts``. A cut page
is re-requested with the same cursor (the SDK Cursor only advances after a page arrived). Code 190
is not retried: :class:`TokenExpiredError`. The sleep and clock are injectable.

The access token travels in the query string (the SDK's session params, as on the real API), so it
is redacted from every message this module produces; never enable urllib3 DEBUG logging in a run
with a real token (it logs request URLs).

The SDK is used without global state: a :class:`FacebookSession` whose ``GRAPH`` is the configured
host, a :class:`FacebookAdsApi` on it with the pinned :data:`API_VERSION`, passed to every object;
``FacebookAdsApi.init`` (which installs the crash reporter's ``sys.excepthook``) is never called.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeVar

from extractors.lake import Written, extraction_window, write_window
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform
from watershed.settings import Settings

log = logging.getLogger(__name__)

API_VERSION = "v26.0"  # pinned with facebook-business 26.x (apiconfig API_VERSION); track Meta's sunset dates
GRAPH_URL = "https://graph.facebook.com"
LOOKBACK_DAYS = 28  # Meta freezes insights 28 days after the fact
PURCHASE_ACTION_TYPE = "offsite_conversion.fb_pixel_purchase"
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
ACCOUNT_FIELDS = ("account_id", "name", "currency", "timezone_name")
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
TOKEN_CODE = 190
SIX, TWO = Decimal("0.000001"), Decimal("0.01")

T = TypeVar("T")


class MetaAdsError(RuntimeError):
    """An extraction failed; nothing of the failed account was written."""

    report: ExtractReport | None = None


class TokenExpiredError(MetaAdsError):
    """Code 190: the access token is expired or invalid. Not retried: a new token is needed."""


class ReportJobError(MetaAdsError):
    """The async insights job ended "Job Failed" / "Job Skipped"."""


class ReportJobTimeout(MetaAdsError):
    """The async insights job did not complete within the job timeout."""


class RetriesExhausted(MetaAdsError):
    """Rate limiting or transient errors outlasted the retry policy."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # transient errors: tries per request
    backoff: float = 2.0  # first backoff in seconds, doubled each time
    max_backoff: float = 120.0
    rate_limit_attempts: int = 5  # rate-limit waits per request
    default_rate_limit_wait: float = 60.0  # seconds, when the header gives no estimate
    max_rate_limit_wait: float = 3600.0  # a longer estimate fails the run instead of sleeping


@dataclass
class ExtractReport:
    days_written: list[Written] = field(default_factory=list)
    rows: int = 0
    api_calls: int = 0  # HTTP requests attempted, retries included
    retries: int = 0
    waits: list[float] = field(default_factory=list)  # seconds slept for rate limits and backoff
    accounts: list[str] = field(default_factory=list)  # accounts fully written


def extract(
    settings: Settings,
    *,
    account_ids: Sequence[str],
    access_token: str,
    end: date,
    lookback: int = LOOKBACK_DAYS,
    days: Sequence[date] | None = None,
    app_id: str | None = None,
    app_secret: str | None = None,
    graph_url: str = GRAPH_URL,
    api_version: str = API_VERSION,
    retry: RetryPolicy = RetryPolicy(),
    poll_interval: float = 5.0,
    job_timeout: float = 3600.0,
    page_limit: int = 500,
    request_timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ExtractReport:
    """Extract the days of ``lookback_days(end, lookback)`` (or the contiguous ``days``) for each
    account (digits, with or without ``act_``) and replace them in the lake."""
    window = extraction_window(end, lookback, days)
    run = _Run(
        access_token=access_token,
        app_id=app_id,
        app_secret=app_secret,
        graph_url=graph_url,
        api_version=api_version,
        retry=retry,
        sleep=sleep,
        clock=clock,
        request_timeout=request_timeout,
    )
    report = ExtractReport()
    try:
        for raw in account_ids:
            account_id = raw.removeprefix("act_")
            pulled = run.pull(
                account_id, window, poll_interval=poll_interval, job_timeout=job_timeout, limit=page_limit
            )
            written, rows = write_window(settings, Platform.FACEBOOK_ADS, account_id, pulled)
            report.days_written += written
            report.rows += rows
            report.accounts.append(account_id)
            log.info("meta_ads: account %s, %s..%s: %d rows", account_id, window[0], window[-1], report.rows)
    except MetaAdsError as e:
        e.report = report
        raise
    finally:
        report.api_calls, report.retries, report.waits = run.api.get_num_requests_attempted(), run.retries, run.waits
    return report


class _Run:
    def __init__(
        self,
        *,
        access_token: str,
        app_id: str | None,
        app_secret: str | None,
        graph_url: str,
        api_version: str,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        request_timeout: float,
    ):
        from facebook_business.api import FacebookAdsApi
        from facebook_business.session import FacebookSession

        if not access_token:
            raise TokenExpiredError("Meta Ads: no access token configured")
        session = FacebookSession(app_id, app_secret, access_token, timeout=request_timeout)
        session.GRAPH = graph_url.rstrip("/")  # this session only: no global patching
        self.api = FacebookAdsApi(session, api_version=api_version)
        self._secrets = [s for s in (access_token, app_secret, getattr(session, "appsecret_proof", None)) if s]
        self.retry, self.sleep, self.clock = retry, sleep, clock
        self.retries = 0
        self.waits: list[float] = []

    # -- one account -------------------------------------------------------------------------------
    def pull(
        self, account_id: str, window: list[date], *, poll_interval: float, job_timeout: float, limit: int
    ) -> dict[date, tuple[list[Any], list[AdPlatformDailyRow]]]:
        from facebook_business.adobjects.adaccount import AdAccount
        from facebook_business.adobjects.adreportrun import AdReportRun

        account = AdAccount(f"act_{account_id}", api=self.api)
        self._call(lambda: account.api_get(fields=list(ACCOUNT_FIELDS)), f"reading account act_{account_id}")
        account_response = account.export_all_data()
        name, currency, zone = account.get("name"), account.get("currency"), account.get("timezone_name")
        if not name or not currency or not zone:
            raise MetaAdsError(f"Meta Ads account act_{account_id}: the API returned no name, currency or time zone")

        params = {
            "level": "campaign",
            "time_increment": 1,
            "time_range": {"since": window[0].isoformat(), "until": window[-1].isoformat()},
        }
        job: AdReportRun = self._call(
            lambda: account.get_insights(fields=list(INSIGHT_FIELDS), params=dict(params), is_async=True),
            f"starting the insights job of act_{account_id}",
        )
        status = self._wait(job, account_id, poll_interval, job_timeout)

        cursor = _recording_cursor(job, limit)
        while self._call(cursor.load_next_page, f"reading report {job.get_id()} of act_{account_id}"):
            pass

        by_day: dict[date, tuple[list[Any], list[AdPlatformDailyRow]]] = {
            d: ([{"account": account_response}, {"report_run": status}], []) for d in window
        }
        seen: set[tuple[date, str]] = set()
        for page in cursor.pages:
            page_days: set[date] = set()
            for raw in page.get("data", []):
                row = _row(raw, account_id, name, currency, zone)
                if row.date not in by_day:
                    raise MetaAdsError(
                        f"Meta Ads act_{account_id}: a row of {row.date}, outside {window[0]}..{window[-1]}"
                    )
                if (row.date, row.campaign_id) in seen:
                    raise MetaAdsError(f"Meta Ads act_{account_id}: campaign {row.campaign_id} twice on {row.date}")
                seen.add((row.date, row.campaign_id))
                by_day[row.date][1].append(row)
                page_days.add(row.date)
            for d in page_days:
                by_day[d][0].append({"insights_page": page})
        return by_day

    def _wait(self, job: Any, account_id: str, poll_interval: float, job_timeout: float) -> dict[str, Any]:
        from facebook_business.adobjects.adreportrun import AdReportRun

        deadline = self.clock() + job_timeout
        what = f"Meta Ads insights report {job.get_id()} of act_{account_id}"
        while True:
            self._call(job.api_get, f"polling {what}")
            status = job.get(AdReportRun.Field.async_status)
            if status == "Job Completed":
                return dict(job.export_all_data())
            if status in ("Job Failed", "Job Skipped"):
                detail = job.get("error_message") or job.get("error_code") or "no detail"
                raise ReportJobError(f"{what} ended {status!r}: {detail}")
            if self.clock() >= deadline:
                raise ReportJobTimeout(
                    f"{what} still {status!r} ({job.get(AdReportRun.Field.async_percent_completion)}%)"
                    f" after {job_timeout:g}s; nothing written for act_{account_id}"
                )
            self.sleep(poll_interval)

    # -- retries -----------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], what: str) -> T:
        """`fn()` with the retry policy. Errors are raised outside the ``except`` blocks, so they
        carry no ``__context__`` (the SDK's and requests' exceptions hold the request URL, token
        included)."""
        import requests
        from facebook_business.exceptions import FacebookRequestError

        transient = rate_limited = 0
        while True:
            error: MetaAdsError | None = None
            wait = 0.0
            try:
                return fn()
            except FacebookRequestError as e:
                code, status, subcode = e.api_error_code(), e.http_status(), e.api_error_subcode()
                detail = f"{what}: HTTP {status}, code {code}/{subcode}: {e.api_error_message() or 'no message'}"
                if code == TOKEN_CODE:
                    error = TokenExpiredError(
                        f"Meta Ads access token expired or invalid (code 190/{subcode}) while {what};"
                        " a new token is needed, not retried"
                    )
                elif code in RATE_LIMIT_CODES:
                    rate_limited += 1
                    wait = _regain_seconds(e.http_headers()) or self.retry.default_rate_limit_wait
                    if rate_limited > self.retry.rate_limit_attempts or wait > self.retry.max_rate_limit_wait:
                        error = RetriesExhausted(f"Meta Ads rate limited {rate_limited} time(s), {detail}")
                    kind = "rate limited"
                elif (status or 0) >= 500 or e.api_transient_error() or code in TRANSIENT_CODES:
                    transient += 1
                    wait = min(self.retry.backoff * 2 ** (transient - 1), self.retry.max_backoff)
                    if transient >= self.retry.attempts:
                        error = RetriesExhausted(f"Meta Ads gave up after {transient} attempts, {detail}")
                    kind = "transient error"
                else:
                    error = MetaAdsError(f"Meta Ads request failed, {detail}")
            except requests.RequestException as e:
                transient += 1
                detail = f"{what}: {type(e).__name__}: {e}"
                wait = min(self.retry.backoff * 2 ** (transient - 1), self.retry.max_backoff)
                if transient >= self.retry.attempts:
                    error = RetriesExhausted(f"Meta Ads gave up after {transient} attempts, {detail}")
                kind = "connection error"
            if error is not None:
                raise type(error)(self._redact(str(error)))
            log.warning("meta_ads: %s (%s), retrying in %.1fs", kind, self._redact(detail), wait)
            self.retries += 1
            self.waits.append(wait)
            self.sleep(wait)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text


def _make_cursor_class() -> type:
    from facebook_business.adobjects.adsinsights import AdsInsights
    from facebook_business.api import Cursor

    class RecordingCursor(Cursor):
        """The SDK Cursor over a report's results, keeping each page as received (for bronze)."""

        def __init__(self, job: Any, limit: int):
            super().__init__(
                source_object=job, target_objects_class=AdsInsights, params={"limit": limit}, include_summary=False
            )
            self.pages: list[dict[str, Any]] = []

        def build_objects_from_response(self, response: Any) -> Any:
            self.pages.append(response)
            return super().build_objects_from_response(response)

    return RecordingCursor


def _recording_cursor(job: Any, limit: int) -> Any:
    """A RecordingCursor (the class is made on first use: the SDK is imported late)."""
    global _cursor_class
    if _cursor_class is None:
        _cursor_class = _make_cursor_class()
    return _cursor_class(job, limit)


_cursor_class: type | None = None


def _regain_seconds(headers: Mapping[str, str] | None) -> float:
    """The largest ``estimated_time_to_regain_access`` (minutes) in the usage headers, in seconds."""
    minutes = 0.0
    for name, value in (headers or {}).items():
        if name.lower() not in ("x-business-use-case-usage", "x-ad-account-usage"):
            continue
        try:
            usage = json.loads(value)
        except ValueError:
            continue
        entries: Iterable[Any] = (
            [usage] if "estimated_time_to_regain_access" in usage else [e for v in usage.values() for e in (v or [])]
        )
        for entry in entries:
            if isinstance(entry, dict):
                try:
                    minutes = max(minutes, float(entry.get("estimated_time_to_regain_access") or 0))
                except (TypeError, ValueError):
                    continue
    return minutes * 60


def _action(values: Any, action_type: str = PURCHASE_ACTION_TYPE) -> Decimal:
    """The value of exactly one action type (never a sum of aliases); 0 when absent."""
    for entry in values or []:
        if isinstance(entry, dict) and entry.get("action_type") == action_type:
            return _decimal(entry.get("value"), f"actions[{action_type}]")
    return Decimal(0)


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise MetaAdsError(f"Meta Ads returned a non-number {name}: {value!r}") from None


def _row(
    raw: Mapping[str, Any], account_id: str, account_name: str, currency: str, time_zone: str
) -> AdPlatformDailyRow:
    if raw.get("date_start") != raw.get("date_stop"):
        raise MetaAdsError(
            f"Meta Ads returned a row of more than one day: {raw.get('date_start')}..{raw.get('date_stop')}"
        )
    if str(raw.get("account_id", account_id)) != account_id:
        raise MetaAdsError(f"Meta Ads returned a row of account {raw.get('account_id')} for act_{account_id}")
    try:
        return AdPlatformDailyRow(
            date=date.fromisoformat(str(raw["date_start"])),
            platform=Platform.FACEBOOK_ADS,
            account_id=account_id,
            account_name=account_name,
            campaign_id=str(raw["campaign_id"]),
            campaign_name=str(raw.get("campaign_name") or raw["campaign_id"]),
            impressions=int(_decimal(raw.get("impressions"), "impressions")),
            clicks=int(_decimal(raw.get("clicks"), "clicks")),
            cost=_decimal(raw.get("spend"), "spend").quantize(SIX, ROUND_HALF_EVEN),
            conversions=float(_action(raw.get("actions"))),
            conversion_value=_action(raw.get("action_values")).quantize(TWO, ROUND_HALF_EVEN),
            currency=currency,
            time_zone=time_zone,
        )
    except (KeyError, ValueError) as e:
        raise MetaAdsError(f"Meta Ads returned a row that does not fit the contract: {e}") from None
