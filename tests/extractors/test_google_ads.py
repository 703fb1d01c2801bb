"""The Google Ads extractor, with the official google-ads client, against the fake GoogleAdsService
over real TLS gRPC (and its OAuth token endpoint over HTTP): exact rows, every day of the window,
retries that honour the server's retry_delay, the daily quota and auth errors clear and not
retried, a cut stream re-read whole, a restatement replacing only its day, no secret leaked."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from extractors import google_ads
from extractors.google_ads import (
    API_VERSION,
    LOOKBACK_DAYS,
    NOT_RETRYABLE,
    DailyQuotaExhausted,
    GoogleAdsAuthError,
    GoogleAdsError,
    RetriesExhausted,
    RetryPolicy,
    extract,
)
from extractors.lake import read_rows
from simulator.config import GeneratorConfig
from simulator.fakes import google_ads as fake_module
from simulator.fakes.google_ads import FakeGoogleAds, Faults, Restatement
from simulator.simulate import simulate
from simulator.world import ACCOUNTS
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform
from watershed.settings import Settings

START = date(2026, 11, 1)
SIM_DAYS = 7
DAYS = SIM_DAYS + 2  # the window runs 2 days past the simulation: days without delivery
END = START + timedelta(days=DAYS - 1)
WINDOW = [START + timedelta(days=n) for n in range(DAYS)]
ACCOUNT = ACCOUNTS[Platform.GOOGLE_ADS][0]
DEVELOPER_TOKEN = "gads-dev-token-0123456789abcdef"  # pragma: allowlist secret
REFRESH_TOKEN = "1//0g-refresh-token-fedcba9876543210"  # pragma: allowlist secret
CLIENT_SECRET = "GOCSPX-client-secret-abcdef"  # pragma: allowlist secret
ACCESS_TOKEN = "ya29.fake-access-token-0123456789"  # pragma: allowlist secret
CLIENT_ID = "123456789-fake.apps.googleusercontent.com"
SECRETS = (DEVELOPER_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, ACCESS_TOKEN)
BATCH = 5


@pytest.fixture(scope="module")
def world_rows() -> list[dict[str, Any]]:
    rows = simulate(GeneratorConfig(events=8000, days=SIM_DAYS, start_date=START)).ad_platform_rows.to_pylist()
    google = [r for r in rows if r["platform"] == "google_ads"]
    assert len(google) > 3 * BATCH and any(r["conversions"] > 0 for r in google)  # batches and conversions to test
    return rows


@dataclass
class Clock:
    """An injected clock: sleeping advances it, and every sleep is recorded."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(lake_uri=str(tmp_path / "lake"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def serve(world_rows: list[dict[str, Any]]) -> Iterator[Any]:
    started: list[FakeGoogleAds] = []

    def start(faults: Faults | None = None, rows: list[dict[str, Any]] | None = None, **kwargs: Any) -> FakeGoogleAds:
        fake = FakeGoogleAds(
            world_rows if rows is None else rows,
            developer_token=DEVELOPER_TOKEN,
            access_token=ACCESS_TOKEN,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            batch_size=BATCH,
            faults=faults,
            **kwargs,
        ).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def config(fake: FakeGoogleAds, **overrides: Any) -> dict[str, Any]:
    return {
        "developer_token": DEVELOPER_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "endpoint": fake.endpoint,
        "token_uri": fake.token_uri,
        **overrides,
    }


def run(
    settings: Settings, fake: FakeGoogleAds, clock: Clock, accounts: list[str] | None = None, **kwargs: Any
) -> google_ads.ExtractReport:
    return extract(
        settings,
        account_ids=accounts or [ACCOUNT],
        config=config(fake, **kwargs.pop("config", {})),
        end=END,
        lookback=DAYS,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )


def silver(settings: Settings) -> dict[date, list[AdPlatformDailyRow]]:
    return {d: sorted(read_rows(settings, "google_ads", d), key=lambda r: r.campaign_id) for d in WINDOW}


def by_day(rows: list[AdPlatformDailyRow]) -> dict[date, list[AdPlatformDailyRow]]:
    return {d: sorted((r for r in rows if r.date == d), key=lambda r: r.campaign_id) for d in WINDOW}


def lake_files(settings: Settings) -> list[str]:
    root = Path(str(settings.lake_uri))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def bronze(settings: Settings, day: date) -> list[dict[str, Any]]:
    path = Path(str(settings.lake_uri)) / f"bronze/ad_platform/google_ads/dt={day}/account={ACCOUNT}/responses.json"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_happy_path_rows_equal_the_served_world(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    report = run(settings, fake, clock)
    truth = fake.rows(START, END)

    assert silver(settings) == by_day(truth)
    assert len(truth) == len([r for r in fake.rows() if r.date <= END]) > 3 * BATCH
    assert report.rows == len(truth) and report.accounts == [ACCOUNT]
    # every day of the window is written, the two days past the simulation empty
    assert [(w.account_id, w.day, w.rows) for w in report.days_written] == [
        (ACCOUNT, d, len(by_day(truth)[d])) for d in WINDOW
    ]
    assert [w.rows for w in report.days_written][-2:] == [0, 0] and len(lake_files(settings)) == 2 * DAYS
    assert (report.api_calls, report.retries, report.waits, report.token_refreshes) == (2, 0, [], 1)
    assert clock.sleeps == []
    assert {(r.account_name, r.currency, r.time_zone) for r in truth} == {
        ("Watershed Shop (Google Ads)", "GBP", "Europe/London")
    }

    # one customer query, one SearchStream over the window, both with the client's headers
    customer, campaigns = fake.calls
    assert (customer.resource, campaigns.resource) == ("customer", "campaign")
    assert customer.query == (
        "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"
    )
    assert campaigns.query.endswith(f"FROM campaign WHERE segments.date BETWEEN '{START}' AND '{END}'")
    assert {c.customer_id for c in fake.calls} == {ACCOUNT}
    assert {(c.developer_token, c.authorization, c.login_customer_id) for c in fake.calls} == {
        (DEVELOPER_TOKEN, f"Bearer {ACCESS_TOKEN}", None)
    }
    assert campaigns.batches == math.ceil(len(truth) / BATCH) > 1 and campaigns.outcome == "ok"
    assert [(t.grant_type, t.client_id, t.status) for t in fake.token_requests] == [("refresh_token", CLIENT_ID, 200)]
    assert fake_module.VERSION == API_VERSION == "v26"


def test_money_and_conversions_are_mapped_exactly(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    run(settings, fake, clock)
    raw = [
        r
        for d in WINDOW
        for b in bronze(settings, d)
        if "search_stream_batch" in b
        for r in b["search_stream_batch"]["results"]
    ]
    stored = {(r.date, r.campaign_id): r for rows in silver(settings).values() for r in rows}
    assert raw and len({(r["segments"]["date"], r["campaign"]["id"]) for r in raw}) == len(stored)
    for row in raw:
        got = stored[(date.fromisoformat(row["segments"]["date"]), str(row["campaign"]["id"]))]
        assert got.cost == Decimal(int(row["metrics"]["cost_micros"])) / Decimal(1_000_000)
        assert got.cost.as_tuple().exponent == -6 and got.conversion_value.as_tuple().exponent == -2
        assert got.conversions == row["metrics"].get("conversions", 0.0)
        assert got.conversion_value == Decimal(str(row["metrics"].get("conversions_value", 0.0))).quantize(
            Decimal("0.01")
        )
    assert sum(r.conversions for r in stored.values()) == sum(r.conversions for r in fake.rows(START, END)) > 0
    first = bronze(settings, START)
    assert first[0]["customer"]["results"][0]["customer"]["currency_code"] == "GBP"
    assert first[1] == {"query": {"customer_id": ACCOUNT, "gaql": fake.calls[1].query}}
    assert bronze(settings, END)[2:] == []  # an empty day: the customer and the query, no batch


def test_login_customer_id_and_dashed_ids_reach_the_api(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    dashed = f"{ACCOUNT[:3]}-{ACCOUNT[3:6]}-{ACCOUNT[6:]}"
    report = run(settings, fake, clock, accounts=[dashed], config={"login_customer_id": "999-888-7777"})
    assert report.accounts == [ACCOUNT]
    assert [(c.customer_id, c.login_customer_id) for c in fake.calls] == [(ACCOUNT, "9998887777")] * 2


def test_rate_limit_waits_the_retry_delay_then_succeeds(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(rate_limited_calls=2, retry_delay_seconds=7))
    report = run(settings, fake, clock)
    assert clock.sleeps == [7.0, 7.0]
    assert [c.outcome for c in fake.calls] == ["RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED", "ok", "ok"]
    assert (report.retries, report.waits, report.api_calls) == (2, [7.0, 7.0], 4)
    assert silver(settings) == by_day(fake.rows(START, END))


def test_a_retry_delay_longer_than_the_maximum_fails_without_sleeping(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve(Faults(rate_limited_calls=1, retry_delay_seconds=900))
    with pytest.raises(RetriesExhausted) as e:
        run(settings, fake, clock, retry=RetryPolicy(max_rate_limit_wait=600))
    assert str(e.value) == (
        f"Google Ads rate limited 1 time(s), reading customer {ACCOUNT}: RESOURCE_EXHAUSTED,"
        " quota_error RESOURCE_TEMPORARILY_EXHAUSTED: Too many requests. Retry in 900 seconds. (request fake-0)"
    )
    assert clock.sleeps == [] and lake_files(settings) == []


def test_rate_limits_are_bounded_by_the_clock(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(rate_limited_calls=3, retry_delay_seconds=40))
    with pytest.raises(RetriesExhausted) as e:
        run(settings, fake, clock, retry=RetryPolicy(max_elapsed=100))
    assert str(e.value).startswith(f"Google Ads retries would pass 100s, reading customer {ACCOUNT}:")
    assert clock.sleeps == [40.0, 40.0] and len(fake.calls) == 3 and lake_files(settings) == []


def test_the_daily_quota_is_not_retried_and_writes_nothing(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(daily_quota_exhausted=True))
    with pytest.raises(DailyQuotaExhausted) as e:
        run(settings, fake, clock)
    assert str(e.value) == (
        f"Google Ads daily quota exhausted (reading customer {ACCOUNT}: RESOURCE_EXHAUSTED, quota_error"
        " RESOURCE_EXHAUSTED: Too many requests. Retry in 86400 seconds. (request fake-0));"
        " not retried: the quota resets within 24 hours"
    )
    assert len(fake.calls) == 1 and clock.sleeps == [] and lake_files(settings) == []
    assert isinstance(e.value, NOT_RETRYABLE)
    assert e.value.report is not None and e.value.report.days_written == [] and e.value.report.api_calls == 1


def test_unavailable_and_internal_are_retried_with_backoff(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(transient=("UNAVAILABLE", "INTERNAL", "UNAVAILABLE")))
    report = run(settings, fake, clock)
    assert [c.outcome for c in fake.calls] == ["UNAVAILABLE", "INTERNAL", "UNAVAILABLE", "ok", "ok"]
    assert report.waits == clock.sleeps == [2.0, 4.0, 8.0] and report.retries == 3
    assert silver(settings) == by_day(fake.rows(START, END))


def test_transient_errors_beyond_the_attempts_fail_and_write_nothing(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve(Faults(transient=("INTERNAL",) * 10))
    with pytest.raises(RetriesExhausted) as e:
        run(settings, fake, clock, retry=RetryPolicy(attempts=3))
    assert str(e.value) == (
        f"Google Ads gave up after 3 attempts, reading customer {ACCOUNT}: INTERNAL, Internal error encountered."
        " (request fake-2)"
    )
    assert len(fake.calls) == 3 and clock.sleeps == [2.0, 4.0] and lake_files(settings) == []
    assert not isinstance(e.value, NOT_RETRYABLE)


def test_a_cut_stream_is_read_again_whole_without_duplicates(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(cut_streams=1))
    report = run(settings, fake, clock)
    truth = fake.rows(START, END)
    cut, again = fake.campaign_calls()
    assert (cut.outcome, cut.batches) == ("cut", 1) and (again.outcome, again.batches) == (
        "ok",
        math.ceil(len(truth) / BATCH),
    )
    assert cut.query == again.query
    assert (report.retries, report.waits, report.api_calls) == (1, [2.0], 3)
    stored = [r for rows in silver(settings).values() for r in rows]
    assert len(stored) == len({(r.date, r.campaign_id) for r in stored}) == len(truth)
    assert silver(settings) == by_day(truth)


def test_a_restatement_replaces_exactly_the_restated_day(
    settings: Settings, serve: Any, clock: Clock, world_rows: list[dict[str, Any]]
) -> None:
    target = next(r for r in world_rows if r["platform"] == "google_ads" and r["date"] == START + timedelta(days=2))
    restated = Restatement(
        day=target["date"],
        campaign_id=target["campaign_id"],
        conversions=target["conversions"] + 1.5,
        conversion_value=target["conversion_value"] + Decimal("42.50"),
    )
    fake = serve(Faults(restatements=[restated]))
    run(settings, fake, clock)
    before = silver(settings)
    run(settings, fake, clock)
    after = silver(settings)

    assert [d for d in WINDOW if before[d] != after[d]] == [restated.day]
    changed = [(b, a) for b, a in zip(before[restated.day], after[restated.day], strict=True) if b != a]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.campaign_id == new.campaign_id == restated.campaign_id
    assert (new.conversions, new.conversion_value) == (restated.conversions, restated.conversion_value)
    assert new.model_copy(update={"conversions": old.conversions, "conversion_value": old.conversion_value}) == old
    assert after == by_day(fake.rows(START, END))


def test_a_day_restated_to_nothing_is_emptied(
    settings: Settings, serve: Any, clock: Clock, world_rows: list[dict[str, Any]]
) -> None:
    day = START + timedelta(days=3)
    run(settings, serve(), clock)
    assert silver(settings)[day] != []
    fake = serve(rows=[r for r in world_rows if r["date"] != day])
    run(settings, fake, clock)
    assert silver(settings)[day] == [] and silver(settings) == by_day(fake.rows(START, END))


def test_a_removed_campaign_is_still_reported(
    settings: Settings, serve: Any, clock: Clock, world_rows: list[dict[str, Any]]
) -> None:
    gone = next(r["campaign_id"] for r in world_rows if r["platform"] == "google_ads")
    fake = serve(Faults(removed_campaigns=frozenset({gone})))
    run(settings, fake, clock)
    assert fake.status(gone) == "REMOVED"
    stored = [r for rows in silver(settings).values() for r in rows if r.campaign_id == gone]
    assert stored == [r for r in fake.rows(START, END) if r.campaign_id == gone] != []
    raw = [
        r
        for b in bronze(settings, stored[0].date)
        if "search_stream_batch" in b
        for r in b["search_stream_batch"]["results"]
    ]
    assert {r["campaign"]["status"] for r in raw if str(r["campaign"]["id"]) == gone} == {"REMOVED"}


@pytest.mark.parametrize(
    ("wrong", "expected"),
    [
        ({"developer_token": DEVELOPER_TOKEN + "-old"}, "authentication_error DEVELOPER_TOKEN_INVALID"),
        ({"refresh_token": REFRESH_TOKEN + "-revoked"}, "the token endpoint refused the refresh: invalid_grant"),
        ({"client_secret": CLIENT_SECRET + "-rotated"}, "the token endpoint refused the refresh: invalid_client"),
    ],
)
def test_auth_errors_are_clear_not_retried_and_write_nothing(
    settings: Settings,
    serve: Any,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    wrong: dict[str, str],
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = serve()
    with pytest.raises(GoogleAdsAuthError) as e:
        run(settings, fake, clock, config=wrong)
    text = str(e.value)
    assert expected in text and text.startswith("Google Ads rejected the credentials (")
    assert text.endswith(
        "; not retried: check the developer token, the OAuth client and refresh token, and the access to the customer"
    )
    assert len(fake.calls) == (1 if "developer_token" in wrong else 0) and len(fake.token_requests) == 1
    assert clock.sleeps == [] and lake_files(settings) == [] and isinstance(e.value, NOT_RETRYABLE)
    for secret in (*SECRETS, *wrong.values()):
        assert secret not in text + repr(e.value) + caplog.text
    assert e.value.__context__ is None and e.value.__cause__ is None


def test_secrets_quoted_by_the_token_endpoint_are_redacted(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(token_error_echoes_request=True))
    with pytest.raises(GoogleAdsError) as e:
        run(settings, fake, clock)
    text = str(e.value) + repr(e.value)
    assert "invalid_request: Bad request:" in text and "'refresh_token': '<redacted>'" in text
    assert "'client_secret': '<redacted>'" in text and CLIENT_ID in text
    assert all(secret not in text for secret in SECRETS) and e.value.__context__ is None


def test_a_second_account_without_access_keeps_the_first_accounts_days(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve()
    with pytest.raises(GoogleAdsAuthError) as e:
        run(settings, fake, clock, accounts=[ACCOUNT, "1112223333"])
    assert "PERMISSION_DENIED, authorization_error USER_PERMISSION_DENIED" in str(e.value)
    assert "reading customer 1112223333" in str(e.value)
    assert e.value.report is not None and e.value.report.accounts == [ACCOUNT]
    files = lake_files(settings)
    assert len(files) == 2 * DAYS and all(ACCOUNT in f for f in files)
    assert silver(settings) == by_day(fake.rows(START, END))


def test_secrets_never_appear_in_logs_errors_or_the_lake(
    settings: Settings, serve: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the client's interceptor logs whole requests at INFO
    texts = []
    fake = serve(Faults(rate_limited_calls=1, transient=("UNAVAILABLE",), cut_streams=1))
    run(settings, fake, clock)
    for faults in (Faults(daily_quota_exhausted=True), Faults(transient=("INTERNAL",) * 9)):
        with pytest.raises(GoogleAdsError) as e:
            run(settings, serve(faults), clock)
        texts += [str(e.value), repr(e.value)]
        assert e.value.__context__ is None and e.value.__cause__ is None
    lake = "".join(Path(str(settings.lake_uri), f).read_bytes().decode(errors="replace") for f in lake_files(settings))
    assert "rate limited" in caplog.text and "transient" in caplog.text
    assert "SearchStream" in caplog.text  # the client's own request log was captured too
    for secret in SECRETS:
        assert secret not in caplog.text and secret not in lake and not any(secret in t for t in texts)


def test_missing_credentials_and_gaps_are_refused_before_any_call(settings: Settings, serve: Any) -> None:
    fake = serve()
    with pytest.raises(GoogleAdsAuthError, match=r"^Google Ads: no refresh_token configured$"):
        extract(settings, account_ids=[ACCOUNT], config=config(fake, refresh_token=""), end=END)
    with pytest.raises(ValueError, match="contiguous"):
        extract(settings, account_ids=[ACCOUNT], config=config(fake), end=END, days=[START, END])
    assert fake.calls == [] and fake.token_requests == [] and lake_files(settings) == []
    assert LOOKBACK_DAYS == 30


def test_a_quota_error_as_google_ads_exception_is_classified_like_resource_exhausted() -> None:
    """The interceptor raises RESOURCE_EXHAUSTED as ResourceExhausted, but a QuotaError under
    another status arrives as GoogleAdsException: both shapes give the same decision."""
    import grpc
    from google.ads.googleads.errors import GoogleAdsException
    from google.ads.googleads.v26.errors.types.quota_error import QuotaErrorEnum

    class FakeCall:
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.ABORTED

    for code, delay, kind in (
        (QuotaErrorEnum.QuotaError.RESOURCE_TEMPORARILY_EXHAUSTED, 12, "rate_limited"),
        (QuotaErrorEnum.QuotaError.RESOURCE_EXHAUSTED, None, "daily_quota"),
    ):
        failure = fake_module._failure(
            "quota_error", code, "Too many requests.", rate_scope="ACCOUNT", retry_delay=delay
        )
        error = GoogleAdsException(FakeCall(), FakeCall(), failure, "req-1")  # type: ignore[arg-type]
        got = google_ads._classify(error)
        assert got == (kind, f"ABORTED, quota_error {code.name}: Too many requests. (request req-1)", delay and 12.0)


def test_the_fake_refuses_what_the_api_refuses(serve: Any) -> None:
    from google.ads.googleads.errors import GoogleAdsException
    from google.oauth2.credentials import Credentials

    fake = serve()
    client = google_ads.client_from_config(config(fake), Credentials(token=ACCESS_TOKEN))
    service = client.get_service("GoogleAdsService", version=API_VERSION)
    try:
        query = "SELECT campaign.id, segments.date FROM campaign"
        with pytest.raises(GoogleAdsException) as e:
            list(service.search_stream(customer_id=ACCOUNT, query=query))
        assert e.value.failure.errors[0].error_code.query_error.name == "EXPECTED_FILTERS_ON_DATE_RANGE"
        ok = list(service.search_stream(customer_id=ACCOUNT, query=google_ads.campaign_query(START, START)))
        assert [len(b.results) for b in ok] == [len(fake.rows(START, START))]
    finally:
        service.transport.close()
    assert [c.outcome for c in fake.calls] == ["INVALID_ARGUMENT", "ok"] and fake.token_requests == []
