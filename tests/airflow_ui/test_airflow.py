"""The Airflow UI in headless Chromium, and a three-day backfill, on a real Airflow.

Airflow is started the way `make up` starts it: `airflow standalone` (api-server, scheduler,
dag-processor, triggerer) through the project's own `Stack`, on free ports, with its AIRFLOW_HOME,
lake and warehouse in a temporary folder, this repository's dags/ and the session's Kafka and
MinIO. Before it starts, four days of generated traffic (a few thousand events, with their ground
truth) are put in Kafka.

One setting differs from `make up`, through the environment Airflow is started with:
`AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False`: the tests unpause `ecommerce_daily`, and the
scheduler must not add its own run for today next to the ones the tests make (manual and backfill
runs still run). Every quality gate keeps its defaults: the generator writes to Kafka with the
arrival times it simulates (so the bronze gate's lateness is the traffic's, not the replay's), and
the marts' day-over-day band allows a small count's noise (a day of 1,000 events has a handful of
orders: here 4, 4, 6, 2).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from monitoring.dashboards import DASHBOARDS, promql
from tests.collector.conftest import bearer, page_view, serve
from watershed.paths import dags_dir
from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.airflow import Airflow
from watershed.stack.process import free_port

BIN = Path(sys.executable).parent
FIRST_DAY = date(2026, 11, 2)
DAYS = [FIRST_DAY + timedelta(days=i) for i in range(4)]  # the UI run's day, then the backfill's three
EVENTS = 4_000
SEED = 8

# Debian's Chromium; a browser downloaded by a test tool cannot be used on this project's machines
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".local" / "screenshots"


@dataclass
class AirflowUnderTest:
    settings: Settings
    password: str
    truth: Path
    collector: httpx.Client  # a collector Prometheus scrapes (tests post to it)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    @property
    def home(self) -> Path:
        return self.settings.state_dir / "airflow"

    @property
    def log(self) -> Path:
        return self.settings.state_dir / "logs" / "airflow.log"

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`airflow ...` against this instance's metadata database, with the configuration the
        stack's own Airflow processes run with (home, dags, the SQLite lock wait)."""
        return subprocess.run(
            [str(BIN / "airflow"), *args],
            env=Airflow(self.settings).environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v2/<path> with a token for admin (state checks next to what the UI shows)."""
        token = httpx.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30
        ).json()["access_token"]
        response = httpx.get(
            f"{self.url}/api/v2/{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def xcom(self, run_id: str, task_id: str) -> Any:
        """What the task returned (its XCom return_value)."""
        path = f"dags/ecommerce_daily/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        value = self.api(path)["value"]
        return json.loads(value) if isinstance(value, str) else value

    def task_states(self, run_id: str) -> dict[str, str | None]:
        found = self.api(f"dags/ecommerce_daily/dagRuns/{run_id}/taskInstances", limit=100)
        return {t["task_id"]: t["state"] for t in found["task_instances"]}

    def states_as_expected(self, run_id: str) -> bool:
        """Every task succeeded, but stream_vs_batch: skipped, no real-time job counted these days."""
        states = self.task_states(run_id)
        return states.pop("stream_vs_batch", None) == "skipped" and set(states.values()) == {"success"}

    def failure_report(self, run_id: str) -> str:
        """Which tasks did not succeed, and where their logs are."""
        bad = {task: state for task, state in self.task_states(run_id).items() if state != "success"}
        logs = self.home / "logs" / "dag_id=ecommerce_daily" / f"run_id={run_id}"
        return f"run {run_id}: tasks not successful {bad}; task logs under {logs}; Airflow log {self.log}"

    def truth_rows(self, name: str) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        return pq.read_table(self.truth / f"{name}.parquet").to_pylist()

    def marts(self, sql: str, *params: Any) -> list[tuple]:
        import duckdb

        con = duckdb.connect(str(self.settings.duckdb_file), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's Chromium is not installed ({CHROMIUM} is missing): run `apt-get install chromium` "
            "(`make setup` and .ci/run do it as root); the Airflow UI test cannot run without it",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def traffic(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four generated days in the session's Kafka; returns the folder of their ground truth."""
    out = tmp_path_factory.mktemp("airflow-traffic")
    result = subprocess.run(
        [str(BIN / "watershed"), "generate", "--out", str(out), "--days", str(len(DAYS)),
         "--start-date", FIRST_DAY.isoformat(), "--events", str(EVENTS), "--seed", str(SEED),
         "--sink", "kafka", "--no-progress"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "truth"


@pytest.fixture(scope="module")
def airflow(
    stack_settings: Settings, traffic: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowUnderTest]:
    password = secrets.token_urlsafe(16)
    # Prometheus, Alertmanager, the Pushgateway, the exporter and the statsd_exporter beside
    # Airflow, as `make up` runs them: the DAG's tasks push to that Pushgateway, Airflow sends its
    # StatsD metrics, the exporter reads this Airflow's database and warehouse, Prometheus scrapes
    # them, the broker's metrics and a collector (idle until the dashboards test posts to it)
    with serve(stack_settings.kafka_bootstrap, kafka_timeout=30) as collector:
        settings = stack_settings.model_copy(
            update={
                "state_dir": tmp_path_factory.mktemp("airflow-state"),
                "airflow_port": free_port(18080),
                "airflow_log_server_port": free_port(18793),
                "postgres_port": free_port(15433),
                "airflow_admin_password": SecretStr(password),
                "prometheus_port": free_port(),
                "pushgateway_port": free_port(),
                "alertmanager_port": free_port(),
                "exporter_port": free_port(),
                "statsd_port": free_port(),
                "statsd_exporter_port": free_port(),
                "monitoring_scrape_interval": "2s",
                "monitoring_collector_targets": [f"{collector.base_url.host}:{collector.base_url.port}"],
            }
        )
        extra = {
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        saved = {k: os.environ.get(k) for k in extra}
        stack = Stack(settings, ["airflow", "prometheus"])
        try:
            os.environ.update(extra)  # Airflow's environment starts from ours
            try:
                stack.up(echo=print)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            yield AirflowUnderTest(settings, password, traffic, collector)
        finally:
            stack.down(echo=print)  # also stops an Airflow that a failed `up` left behind


def wait_for_runs(airflow: AirflowUnderTest, run_ids: list[str], timeout: float) -> dict[str, str]:
    """Poll until every run is finished (success or failed); returns their states."""
    deadline = time.monotonic() + timeout
    while True:
        runs = airflow.api("dags/ecommerce_daily/dagRuns", limit=100)["dag_runs"]
        states = {r["dag_run_id"]: r["state"] for r in runs if r["dag_run_id"] in run_ids}
        if len(states) == len(run_ids) and all(s in ("success", "failed") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(10)


def backfill_runs(airflow: AirflowUnderTest) -> dict[str, dict[str, Any]]:
    """The backfill runs by logical date (YYYY-MM-DD). Airflow 3 names a run after its run_after
    (`backfill__<run_after>`), which under ecommerce_daily's data-interval timetable is the end of
    the day it processes, so runs are matched by logical date, never by a guessed run_id."""
    runs = airflow.api("dags/ecommerce_daily/dagRuns", run_type="backfill", limit=100)["dag_runs"]
    return {r["logical_date"][:10]: r for r in runs}


def expected_day(airflow: AirflowUnderTest, day: date) -> dict[str, Any]:
    """The generator's ground truth for one day: orders, revenue, refunds, purchases."""
    revenue = [r for r in airflow.truth_rows("revenue_daily") if r["date"] == day]
    sessions = [s for s in airflow.truth_rows("sessions") if s["session_date"] == day]
    assert len(revenue) == 1 and revenue[0]["orders"] > 0, f"the generated traffic has no orders on {day}"
    r = revenue[0]
    return {
        "daily_revenue": [(day, r["orders"], r["revenue"], r["refunds"], r["refunded"])],
        "sessions": [(day, len(sessions), sum(s["purchases"] for s in sessions), sum(s["revenue"] for s in sessions))],
    }


def actual_day(airflow: AirflowUnderTest, day: date) -> dict[str, Any]:
    """What the marts hold for that day."""
    return {
        "daily_revenue": airflow.marts(
            "select revenue_date, orders, revenue, refunds, refunded from marts.daily_revenue where revenue_date = ?",
            day,
        ),
        "sessions": airflow.marts(
            "select session_date, count(*), sum(purchases), sum(revenue) from marts.fct_sessions "
            "where session_date = ? group by 1",
            day,
        ),
    }


def json_list(output: str) -> list[dict[str, Any]]:
    """The JSON list in a CLI's output (log lines may come before it)."""
    for match in re.finditer(r"^\[", output, re.MULTILINE):
        try:
            found, _ = json.JSONDecoder().raw_decode(output[match.start() :])
        except ValueError:
            continue
        if isinstance(found, list):
            return found
    raise AssertionError(f"no JSON list in: {output[-2000:]}")


def save_screenshot(page: Any, folder: Path, name: str) -> Path:
    """Into the test's folder, and a copy at a stable path (.local/screenshots/) that is printed."""
    shot = folder / name
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stable = SCREENSHOTS / name
    shutil.copyfile(shot, stable)
    print(f"screenshot: {stable} (also {shot})")
    return stable


@pytest.fixture
def browser_page(chromium: str, tmp_path: Path) -> Iterator[Any]:
    """A page in headless Debian Chromium with a fresh profile, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()


# ---- the tests: they share one Airflow and run in this order ------------------------------------


@pytest.mark.timeout(1200)
def test_the_ui_lists_every_dag_and_a_run_triggered_there_succeeds(
    airflow: AirflowUnderTest, browser_page: Any, tmp_path: Path
) -> None:
    page, url, day = browser_page, airflow.url, DAYS[0]
    run_id = f"ui_test__{day.isoformat()}"
    dag_ids = sorted(p.stem for p in dags_dir().glob("*.py") if not p.name.startswith("_"))

    page.goto(f"{url}/")
    page.get_by_label("Username").wait_for()
    assert "/auth/login" in page.url  # nothing is shown before logging in
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")
    page.get_by_text("Dag Processor").wait_for()  # the home page's health badges
    assert page.get_by_text("Import Error").count() == 0

    page.goto(f"{url}/dags")
    page.get_by_text(f"{len(dag_ids)} Dags", exact=True).wait_for()
    for dag_id in dag_ids:
        page.get_by_role("link", name=dag_id, exact=True).wait_for()
    assert page.get_by_text("Import Error").count() == 0
    assert airflow.api("importErrors")["total_entries"] == 0  # what the UI would have shown
    save_screenshot(page, tmp_path, "airflow-ui-dags.png")

    # unpause, then trigger a single run for the first generated day
    page.goto(f"{url}/dags/ecommerce_daily")
    toggle = page.get_by_test_id("toggle-pause")
    if toggle.get_attribute("data-state") != "checked":
        toggle.click()
    page.wait_for_function("document.querySelector('[data-testid=toggle-pause]').dataset.state === 'checked'")
    page.get_by_test_id("trigger-dag-button").click()
    page.get_by_test_id("datetime-input").click()
    page.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").fill("00:00")
    page.keyboard.press("Escape")
    page.get_by_test_id("datetime-input").get_by_text(day.strftime("%b %d, %Y 00:00")).wait_for()
    page.get_by_text("Advanced Options").click()
    page.locator("input[name=dagRunId]").fill(run_id)
    submit = page.get_by_test_id("trigger-dag-submit")
    submit.click()
    # On a loaded 2-core machine the API server can take a minute to answer the POST (one CI run
    # saw no run after 60 s; the same test then passed). Wait longer, and click submit once more
    # if the dialog is still open and idle after 45 s (a duplicate id is refused, never run twice).
    clicked = time.monotonic()
    resubmitted = False
    while run_id not in {r["dag_run_id"] for r in airflow.api("dags/ecommerce_daily/dagRuns")["dag_runs"]}:
        if time.monotonic() > clicked + 240:
            save_screenshot(page, tmp_path, "airflow-ui-trigger-timeout.png")
            pytest.fail(f"the trigger dialog did not create run {run_id} within 240 s (screenshot saved)")
        if not resubmitted and time.monotonic() > clicked + 45 and submit.is_visible() and submit.is_enabled():
            submit.click()
            resubmitted = True
        time.sleep(1)

    # the run's page, reloaded until its state badge shows an end state
    page.goto(f"{url}/dags/ecommerce_daily/runs/{run_id}")
    badge = page.get_by_test_id("state-badge").first
    deadline = time.monotonic() + 900
    while True:
        badge.wait_for()
        state = badge.inner_text().strip()
        if state in ("Success", "Failed") or time.monotonic() > deadline:
            break
        time.sleep(10)
        page.reload()
    page.get_by_text("Logical Date").wait_for()
    save_screenshot(page, tmp_path, "airflow-ui-ecommerce_daily-run.png")
    assert state == "Success", airflow.failure_report(run_id)

    run = airflow.api(f"dags/ecommerce_daily/dagRuns/{run_id}")
    assert (run["state"], run["run_type"], run["triggered_by"], run["logical_date"]) == (
        "success", "manual", "ui", f"{day.isoformat()}T00:00:00Z",
    )  # fmt: skip
    assert airflow.states_as_expected(run_id), airflow.task_states(run_id)
    assert actual_day(airflow, day) == expected_day(airflow, day)


@pytest.mark.timeout(1500)
def test_a_three_day_backfill_runs_every_day_and_the_marts_equal_the_truth(airflow: AirflowUnderTest) -> None:
    days = DAYS[1:]
    unpause = airflow.cli("dags", "unpause", "ecommerce_daily")  # backfill runs only run on an unpaused DAG
    assert unpause.returncode == 0, unpause.stdout + unpause.stderr
    created = airflow.cli(
        "backfill", "create", "--dag-id", "ecommerce_daily",
        "--from-date", days[0].isoformat(), "--to-date", days[-1].isoformat(), "--max-active-runs", "1",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr

    # the runs are recorded at once; each is named after the end of its day (its run_after)
    runs = backfill_runs(airflow)
    assert sorted(runs) == [d.isoformat() for d in days]
    for day in days:
        run = runs[day.isoformat()]
        assert run["dag_run_id"] == f"backfill__{(day + timedelta(days=1)).isoformat()}T00:00:00+00:00"
        assert (run["data_interval_start"], run["data_interval_end"]) == (
            f"{day.isoformat()}T00:00:00Z", f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z",
        )  # fmt: skip
    run_ids = [runs[d.isoformat()]["dag_run_id"] for d in days]
    states = wait_for_runs(airflow, run_ids, timeout=1300)
    print("backfill runs:", states)
    failed = [airflow.failure_report(r) for r in run_ids if states.get(r) != "success"]
    assert states == dict.fromkeys(run_ids, "success"), "\n".join(failed)

    for run_id in run_ids:
        assert airflow.states_as_expected(run_id), (run_id, airflow.task_states(run_id))
    listed = airflow.cli("dags", "list-runs", "ecommerce_daily", "-o", "json")  # what docs/airflow.md shows
    assert listed.returncode == 0, listed.stderr
    listed_states = {r["run_id"]: r["state"] for r in json_list(listed.stdout)}
    assert {r: listed_states.get(r) for r in run_ids} == dict.fromkeys(run_ids, "success")
    for day in days:
        assert actual_day(airflow, day) == expected_day(airflow, day), day


@pytest.mark.timeout(900)
def test_every_dashboard_panel_has_data_and_the_figures_the_runs_made(airflow: AirflowUnderTest) -> None:
    """Grafana cannot run here: every panel's query of monitoring/dashboards.py goes to the real
    Prometheus instead (as Grafana sends it: a range query over the last hour), after the four
    DAG runs above (run first: pytest keeps the file's order),
    the real-time job over what Kafka holds, and collector traffic. Each returns data; chosen values
    equal what the test knows independently: the collector's accepted events equal those posted,
    each checkpoint's score equals the one its Airflow task returned, the sessions sessionize wrote
    for a day equal the generator's truth."""
    settings = airflow.settings
    prometheus = f"http://127.0.0.1:{settings.prometheus_port}"

    def query(expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql(expr)}, timeout=30).json()
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    def value(expr: str) -> float:
        found = query(expr)
        assert len(found) == 1, (expr, found)
        return float(found[0]["value"][1])

    # the real-time job, to the end of what Kafka holds: its heartbeat, watermark and offsets
    stream = subprocess.run(
        [str(BIN / "watershed"), "stream", "run", "--available-now", "--log-format", "text"],
        env={**os.environ, "WATERSHED_STATE_DIR": str(settings.state_dir),
             "WATERSHED_REALTIME_UI_PORT": str(settings.realtime_ui_port)},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert stream.returncode == 0, stream.stdout[-2000:] + stream.stderr[-4000:]

    # collector traffic: 40 accepted page views, 3 refused (an event type the contract lacks)
    posted = [page_view(f"dashboard-{i % 7}") for i in range(40)]
    for event in posted:
        assert airflow.collector.post("/v1/events", json=event, headers=bearer()).status_code == 200
    for _ in range(3):
        refused = airflow.collector.post(
            "/v1/events", json=page_view("dashboard-bad", event_type="page_teleport"), headers=bearer()
        )
        assert refused.status_code == 422, refused.text
    deadline = time.monotonic() + 60
    while not query("sum(watershed_collector_events_accepted_total) == 40"):
        assert time.monotonic() < deadline, "Prometheus did not scrape the collector's 40 accepted events"
        time.sleep(2)
    time.sleep(6)  # a few more scrapes: the rates have two samples in their window

    def shown(expr: str) -> list[dict[str, Any]]:
        """What a panel over the last hour draws: Grafana's range query, a point every 15 s."""
        end = time.time()
        params = {"query": promql(expr), "start": end - 3600, "end": end, "step": "15s"}
        answer = httpx.get(f"{prometheus}/api/v1/query_range", params=params, timeout=30).json()
        assert answer["status"] == "success", (expr, answer)
        return [r for r in answer["data"]["result"] if r["values"]]

    empty = [
        f"{d.uid} / {panel.title}: {expr}"
        for d in DASHBOARDS
        for panel in d.panels
        for expr, _ in panel.queries
        if not shown(expr)
    ]
    assert empty == [], "panels without data:\n" + "\n".join(empty)

    assert value("sum(watershed_collector_events_accepted_total)") == 40
    assert value("sum(watershed_collector_events_rejected_total)") == 3
    succeeded = [
        r for r in airflow.api("dags/ecommerce_daily/dagRuns", limit=100)["dag_runs"] if r["state"] == "success"
    ]
    assert value('pipeline_success_total{pipeline="ecommerce_daily"}') == len(succeeded) == len(DAYS)
    assert value('pipeline_last_run_success{pipeline="ecommerce_daily"}') == 1
    # Airflow's own StatsD timer of each run, through the statsd_exporter
    timed = 'sum(airflow_dagrun_duration_seconds_count{dag_id="ecommerce_daily",state="success"})'
    assert value(timed) == len(succeeded)

    # each checkpoint's pushed score is the one its task returned for the day it last validated
    runs = [r["dag_run_id"] for r in succeeded]
    scores = {r["metric"]["checkpoint"]: float(r["value"][1]) for r in query("data_quality_score")}
    assert sorted(scores) == ["bronze", "ledger", "marts", "silver"]
    for task in ("bronze_checkpoint", "silver_checkpoint", "marts_checkpoint", "ledger_check"):
        returned = [airflow.xcom(run_id, task) for run_id in runs]
        checkpoint = returned[0]["checkpoint"]
        days = query(f'watershed_quality_data_date_seconds{{checkpoint="{checkpoint}"}}')
        if days:  # the day's midnight (UTC); the ledger checks every day at once and has none
            last = datetime.fromtimestamp(float(days[0]["value"][1]), UTC).date().isoformat()
        else:
            last = max(r["date"] for r in returned)
        [summary] = [r for r in returned if r["date"] == last]
        assert scores[checkpoint] == summary["score"], (checkpoint, last, summary)

    # the sessions sessionize wrote per day, as pushed, equal the generator's truth
    for day in DAYS:
        truth = sum(1 for s in airflow.truth_rows("sessions") if s["session_date"] == day)
        pushed = value(f'watershed_job_rows_out{{batch_job="sessionize",date="{day}",table="silver/sessions"}}')
        assert pushed == truth, day
    assert value("sum(kafka_controller_activecontrollercount)") == 1
    assert value("max(watershed_realtime_running)") == 0  # the --available-now run has ended
