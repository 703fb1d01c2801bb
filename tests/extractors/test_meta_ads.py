"""The Meta Ads extractor, with the real facebook-business SDK, against the fake Graph API over
real HTTP: exact rows, one purchase action type, pagination, retries that honour the server's
delay, clear non-retryable errors that write nothing, and a restatement replacing only its day."""

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

from extractors import meta_ads
from extractors.lake import read_rows
from extractors.meta_ads import (
    PURCHASE_ACTION_TYPE,
    MetaAdsError,
    ReportJobError,
    ReportJobTimeout,
    RetriesExhausted,
    RetryPolicy,
    TokenExpiredError,
    extract,
)
from simulator.config import GeneratorConfig
from simulator.fakes.meta_ads import FakeMetaAds, Faults, Restatement
from simulator.simulate import simulate
from simulator.world import ACCOUNTS
from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform
from watershed.settings import Settings

START = date(2026, 11, 1)
DAYS = 7
END = START + timedelta(days=DAYS - 1)
WINDOW = [START + timedelta(days=n) for n in range(DAYS)]
ACCOUNT = ACCOUNTS[Platform.FACEBOOK_ADS][0]
TOKEN = "EAAB-secret-token-0123456789abcdef"  # pragma: allowlist secret
PAGE = 4


@pytest.fixture(scope="module")
def world_rows() -> list[dict[str, Any]]:
    rows = simulate(GeneratorConfig(events=8000, days=DAYS, start_date=START)).ad_platform_rows.to_pylist()
    fb = [r for r in rows if r["platform"] == "facebook_ads"]
    assert len(fb) > 3 * PAGE and any(r["conversions"] > 0 for r in fb)  # pages and purchases to test
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
    started: list[FakeMetaAds] = []

    def start(faults: Faults | None = None, **kwargs: Any) -> FakeMetaAds:
        fake = FakeMetaAds(world_rows, access_token=TOKEN, page_size=PAGE, faults=faults, **kwargs).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def run(settings: Settings, fake: FakeMetaAds, clock: Clock, **kwargs: Any) -> meta_ads.ExtractReport:
    kwargs.setdefault("access_token", TOKEN)
    return extract(
        settings,
        account_ids=[ACCOUNT],
        end=END,
        lookback=DAYS,
        graph_url=fake.url,
        sleep=clock.sleep,
        clock=clock,
        poll_interval=5.0,
        job_timeout=60.0,
        **kwargs,
    )


def silver(settings: Settings) -> dict[date, list[AdPlatformDailyRow]]:
    return {d: sorted(read_rows(settings, "facebook_ads", d), key=lambda r: r.campaign_id) for d in WINDOW}


def lake_files(settings: Settings) -> list[str]:
    root = Path(str(settings.lake_uri))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def by_day(rows: list[AdPlatformDailyRow]) -> dict[date, list[AdPlatformDailyRow]]:
    return {d: sorted((r for r in rows if r.date == d), key=lambda r: r.campaign_id) for d in WINDOW}


def test_happy_path_rows_equal_the_served_world(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    report = run(settings, fake, clock)
    truth = fake.rows(START, END)

    assert silver(settings) == by_day(truth)
    assert report.rows == len(truth)
    assert [(w.account_id, w.day) for w in report.days_written] == [(ACCOUNT, d) for d in WINDOW]
    assert report.accounts == [ACCOUNT]
    assert (report.retries, report.api_calls) == (0, len(fake.requests))
    assert {(r.account_name, r.currency, r.time_zone) for r in truth} == {
        ("Watershed Shop (Meta)", "EUR", "Europe/Berlin")
    }

    # pagination: ceil(n / page) result pages, each after the first with the previous page's cursor
    pages = [r for r in fake.requests if r.kind == "job_results"]
    assert len(pages) == math.ceil(len(truth) / PAGE) > 1
    assert [r.params.get("after") is None for r in pages] == [True] + [False] * (len(pages) - 1)
    assert len({r.params.get("after") for r in pages}) == len(pages)
    # the async flow, once: account, job, polls until "Job Completed", pages
    assert [r.kind for r in fake.requests] == ["account", "job_create", "job_status", "job_status"] + [
        "job_results"
    ] * len(pages)
    create = next(r for r in fake.requests if r.kind == "job_create")
    assert (create.method, create.path) == ("POST", f"/v26.0/act_{ACCOUNT}/insights")
    assert (create.params["level"], create.params["time_increment"]) == ("campaign", "1")
    assert json.loads(create.params["time_range"]) == {"since": START.isoformat(), "until": END.isoformat()}
    assert clock.sleeps == [5.0]  # one poll interval while "Job Running"


def test_conversions_come_from_one_action_type_not_the_aliases(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    run(settings, fake, clock)
    bronze = (
        Path(str(settings.lake_uri)) / f"bronze/ad_platform/facebook_ads/dt={START}/account={ACCOUNT}/responses.json"
    )
    responses = [json.loads(line) for line in bronze.read_text().splitlines()]
    assert list(responses[0]) == ["account"] and responses[0]["account"]["currency"] == "EUR"
    assert responses[1]["report_run"]["async_status"] == "Job Completed"
    raw = [row for r in responses[2:] for row in r["insights_page"]["data"]]
    bought = [row for row in raw if "action_values" in row]
    assert bought, "the first day has purchases"
    for row in bought:  # the fake repeats each purchase under aliases, with the same value
        types = [a["action_type"] for a in row["actions"]]
        assert {PURCHASE_ACTION_TYPE, "omni_purchase", "purchase"} <= set(types)
    stored = {(r.date, r.campaign_id): r for rows in silver(settings).values() for r in rows}
    for row in bought:
        got = stored[(date.fromisoformat(row["date_start"]), row["campaign_id"])]
        one = next(a for a in row["action_values"] if a["action_type"] == PURCHASE_ACTION_TYPE)
        assert got.conversion_value == Decimal(one["value"]).quantize(Decimal("0.01"))
        assert isinstance(row["spend"], str) and got.cost == Decimal(row["spend"]).quantize(Decimal("0.000001"))
    truth = {(r.date, r.campaign_id): r for r in fake.rows(START, END)}
    assert sum(r.conversions for r in stored.values()) == sum(r.conversions for r in truth.values()) > 0
    assert all(r.conversions == 0 and r.conversion_value == 0 for k, r in stored.items() if truth[k].conversions == 0)


@pytest.mark.parametrize("code", [17, 613, 4, 80000])
def test_rate_limit_waits_the_headers_estimate_then_succeeds(
    settings: Settings, serve: Any, clock: Clock, code: int
) -> None:
    fake = serve(Faults(rate_limited_calls=2, rate_limit_code=code, regain_access_minutes=3))
    report = run(settings, fake, clock)

    assert clock.sleeps[:2] == [180.0, 180.0]  # 3 minutes, from x-business-use-case-usage, twice
    assert [r.outcome for r in fake.requests[:3]] == ["rate_limited", "rate_limited", "ok"]
    assert report.retries == 2 and report.waits == [180.0, 180.0]
    assert silver(settings) == by_day(fake.rows(START, END))


def test_a_rate_limit_longer_than_the_maximum_wait_fails_without_sleeping(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve(Faults(rate_limited_calls=1, regain_access_minutes=90))
    with pytest.raises(RetriesExhausted) as e:
        run(settings, fake, clock, retry=RetryPolicy(max_rate_limit_wait=3600))
    assert str(e.value) == (
        f"Meta Ads rate limited 1 time(s), reading account act_{ACCOUNT}: HTTP 400, code 17/2446079:"
        " User request limit reached"
    )
    assert clock.sleeps == [] and lake_files(settings) == []


@pytest.mark.parametrize("kind", ["expired", "wrong"])
def test_token_error_is_clear_not_retried_and_writes_nothing(
    settings: Settings, serve: Any, clock: Clock, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="extractors")
    fake = serve(Faults(token_expired=kind == "expired"))
    token = TOKEN if kind == "expired" else TOKEN + "-revoked"
    with pytest.raises(TokenExpiredError) as e:
        run(settings, fake, clock, access_token=token)
    subcode = 463 if kind == "expired" else None
    assert str(e.value) == (
        f"Meta Ads access token expired or invalid (code 190/{subcode}) while reading account act_{ACCOUNT};"
        " a new token is needed, not retried"
    )
    assert len(fake.requests) == 1 and clock.sleeps == []
    assert lake_files(settings) == []
    assert token not in str(e.value) + repr(e.value) + caplog.text


def test_a_job_that_stays_running_times_out_and_writes_nothing(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(job_stuck=True))
    with pytest.raises(ReportJobTimeout) as e:
        run(settings, fake, clock)
    assert str(e.value) == (
        f"Meta Ads insights report 6120000000000001 of act_{ACCOUNT} still 'Job Running' (50%) after 60s;"
        f" nothing written for act_{ACCOUNT}"
    )
    assert clock.sleeps == [5.0] * 12  # bounded: polls every 5 s for the 60 s timeout
    assert lake_files(settings) == []
    assert e.value.report is not None and e.value.report.days_written == []


def test_a_failed_job_is_an_error_and_writes_nothing(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(job_failed=True))
    with pytest.raises(ReportJobError) as e:
        run(settings, fake, clock)
    assert str(e.value) == (
        f"Meta Ads insights report 6120000000000001 of act_{ACCOUNT} ended 'Job Failed':"
        " The report could not be generated (fake)"
    )
    assert lake_files(settings) == [] and not [r for r in fake.requests if r.kind == "job_results"]


def test_transient_errors_are_retried_with_backoff(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve(Faults(transient_errors=3))
    report = run(settings, fake, clock)
    assert [r.status for r in fake.requests[:4]] == [500, 500, 500, 200]
    assert report.waits == [2.0, 4.0, 8.0] and report.retries == 3
    assert silver(settings) == by_day(fake.rows(START, END))


def test_transient_errors_beyond_the_attempts_fail_and_write_nothing(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve(Faults(transient_errors=10))
    with pytest.raises(RetriesExhausted) as e:
        run(settings, fake, clock, retry=RetryPolicy(attempts=3))
    assert str(e.value) == (
        f"Meta Ads gave up after 3 attempts, reading account act_{ACCOUNT}: HTTP 500, code 2/None:"
        " An unexpected error has occurred. Please retry your request later."
    )
    assert len(fake.requests) == 3 and lake_files(settings) == []


def test_a_cut_page_is_re_requested_with_the_same_cursor_no_duplicates(
    settings: Settings, serve: Any, clock: Clock
) -> None:
    fake = serve(Faults(cut_pages=1))
    report = run(settings, fake, clock)
    pages = [r for r in fake.requests if r.kind == "job_results"]
    truth = fake.rows(START, END)
    assert [r.outcome for r in pages].count("cut") == 1
    cut = next(i for i, r in enumerate(pages) if r.outcome == "cut")
    assert pages[cut + 1].params["after"] == pages[cut].params["after"]
    assert len(pages) == math.ceil(len(truth) / PAGE) + 1
    assert report.retries == 1
    stored = [r for rows in silver(settings).values() for r in rows]
    assert len(stored) == len({(r.date, r.campaign_id) for r in stored}) == len(truth)
    assert silver(settings) == by_day(truth)


def test_a_restatement_replaces_exactly_the_restated_day(
    settings: Settings, serve: Any, clock: Clock, world_rows: list[dict[str, Any]]
) -> None:
    target = next(r for r in world_rows if r["platform"] == "facebook_ads" and r["date"] == START + timedelta(days=2))
    restated = Restatement(
        day=target["date"],
        campaign_id=target["campaign_id"],
        conversions=target["conversions"] + 2,
        conversion_value=target["conversion_value"] + Decimal("50.00"),
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


def test_a_removed_campaign_is_still_reported(
    settings: Settings, serve: Any, clock: Clock, world_rows: list[dict[str, Any]]
) -> None:
    gone = next(r["campaign_id"] for r in world_rows if r["platform"] == "facebook_ads")
    fake = serve(Faults(removed_campaigns=frozenset({gone})))
    run(settings, fake, clock)
    assert fake.effective_status(gone) == "DELETED"
    stored = [r for rows in silver(settings).values() for r in rows if r.campaign_id == gone]
    assert stored == [r for r in fake.rows(START, END) if r.campaign_id == gone] != []


def test_the_token_never_appears_in_logs_errors_or_the_lake(
    settings: Settings, serve: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="extractors")
    texts = []
    fake = serve(Faults(rate_limited_calls=1, transient_errors=1, cut_pages=1), app_secret="app-secret-xyz")
    run(settings, fake, clock, app_id="123", app_secret="app-secret-xyz")
    for faults in (
        Faults(job_failed=True),
        Faults(job_stuck=True),
        Faults(token_expired=True),
        Faults(transient_errors=9),
    ):
        with pytest.raises(MetaAdsError) as e:
            run(settings, serve(faults), clock)
        texts += [str(e.value), repr(e.value)]
        assert e.value.__context__ is None and e.value.__cause__ is None
    # a connection error (requests puts the URL, query string and token included, in its message)
    with pytest.raises(RetriesExhausted) as e:
        extract(settings, account_ids=[ACCOUNT], access_token=TOKEN, end=END, lookback=1,
                graph_url="http://127.0.0.1:9", sleep=clock.sleep, retry=RetryPolicy(attempts=2))  # fmt: skip
    texts += [str(e.value), repr(e.value)]
    assert e.value.__context__ is None and e.value.__cause__ is None
    assert "ConnectionError" in str(e.value) and "<redacted>" in str(e.value)
    lake = "".join(Path(str(settings.lake_uri), f).read_bytes().decode(errors="replace") for f in lake_files(settings))
    assert "rate limited" in caplog.text and "transient" in caplog.text
    for secret in (TOKEN, "app-secret-xyz"):
        assert secret not in caplog.text and secret not in lake and not any(secret in t for t in texts)
    assert all("appsecret_proof" not in r.params and "access_token" not in r.params for r in fake.requests)


def test_a_second_account_error_keeps_the_first_accounts_days(settings: Settings, serve: Any, clock: Clock) -> None:
    fake = serve()
    with pytest.raises(MetaAdsError) as e:
        extract(settings, account_ids=[ACCOUNT, "999"], access_token=TOKEN, end=END, lookback=DAYS,
                graph_url=fake.url, sleep=clock.sleep, clock=clock)  # fmt: skip
    assert str(e.value).startswith("Meta Ads request failed, reading account act_999: HTTP 400, code 100/33:")
    assert e.value.report is not None and e.value.report.accounts == [ACCOUNT]
    files = lake_files(settings)  # bronze .../account=<id>/responses.json, silver .../facebook_ads-<id>.parquet
    assert {f.split("/account=")[1].split("/")[0] for f in files if f.startswith("bronze/")} == {ACCOUNT}
    assert {f.rsplit("-", 1)[1] for f in files if f.startswith("silver/")} == {f"{ACCOUNT}.parquet"}
    assert len(files) == 2 * DAYS
    assert silver(settings) == by_day(fake.rows(START, END))


def test_no_global_sdk_state_is_touched(settings: Settings, serve: Any, clock: Clock) -> None:
    import sys

    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    hook, default = sys.excepthook, FacebookAdsApi.get_default_api()
    run(settings, serve(), clock)
    assert FacebookSession.GRAPH == "https://graph.facebook.com"
    assert sys.excepthook is hook and FacebookAdsApi.get_default_api() is default  # no init(), no crash reporter


def test_the_fake_serves_the_sync_flow_and_writes_its_truth(serve: Any, tmp_path: Path) -> None:
    from facebook_business.adobjects.adaccount import AdAccount
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    fake = serve()
    session = FacebookSession(None, None, TOKEN)
    session.GRAPH = fake.url
    api = FacebookAdsApi(session, api_version="v26.0")
    params = {"level": "campaign", "time_increment": 1, "time_range": {"since": str(START), "until": str(END)}}
    cursor = AdAccount(f"act_{ACCOUNT}", api=api).get_insights(fields=["campaign_id", "spend"], params=params)
    got = [(r["date_start"], r["campaign_id"], r["spend"]) for r in cursor]
    truth = fake.rows(START, END)
    assert got == [(str(r.date), r.campaign_id, meta_ads_number(r.cost)) for r in truth]
    assert len(fake.page_requests()) == math.ceil(len(truth) / PAGE)
    assert all(r.method == "GET" and r.kind == "insights" for r in fake.page_requests())

    path = fake.write_truth(tmp_path / "truth" / "meta_ads.jsonl", START, END)
    assert [AdPlatformDailyRow.model_validate_json(line) for line in path.read_text().splitlines()] == truth


def meta_ads_number(value: Decimal) -> str:
    text = format(value, "f").rstrip("0").rstrip(".")
    return text or "0"
