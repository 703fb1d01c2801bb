"""Logging as `watershed` sets it up: the exact line shapes (text and JSON), the levels the CLI picks
(-v, --log-level, WATERSHED_LOG_LEVEL), the long-running services' JSON lines at INFO (uvicorn's own
loggers through the same handler, in every worker) and the noisy libraries held at WARNING."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watershed import logs
from watershed.cli import main

TEXT_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([A-Z]+) ([\w.]+): (.*)$")


@pytest.fixture(autouse=True)
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without WATERSHED_* variables and leaves logging as it found it."""
    for key in list(os.environ):
        if key.startswith("WATERSHED_"):
            monkeypatch.delenv(key)
    names = ["", *logs.NOISY, *logs.UVICORN]
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in names
    }
    yield
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line]


def assert_recent(stamp: str) -> None:
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=1)


def test_a_text_line_has_the_utc_time_the_level_and_the_logger(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logging.getLogger("watershed.test").info("landed %d rows", 3)
    logging.getLogger("watershed.test").debug("not shown at INFO")
    (line,) = lines(capsys.readouterr().err)
    match = TEXT_LINE.match(line)
    assert match is not None, line
    assert match.groups()[1:] == ("INFO", "watershed.test", "landed 3 rows")
    assert_recent(match.group(1))


def test_a_text_line_carries_the_traceback_below(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("WARNING")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        logging.getLogger("watershed.test").exception("failed")
    first, *rest = lines(capsys.readouterr().err)
    assert TEXT_LINE.match(first).groups()[1:] == ("ERROR", "watershed.test", "failed")  # type: ignore[union-attr]
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ZeroDivisionError: division by zero"


def test_a_json_line_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", json=True)
    log = logging.getLogger("watershed.test")
    log.info("batch %d committed", 7)
    log.warning("late events", extra={"late": 12, "topic": "user-events"})
    try:
        raise ValueError("bad row")
    except ValueError:
        log.exception("batch failed")
    plain, extra, failed = (json.loads(line) for line in lines(capsys.readouterr().err))
    assert list(plain) == ["time", "level", "logger", "message"]
    assert plain["level"] == "INFO" and plain["logger"] == "watershed.test"
    assert plain["message"] == "batch 7 committed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", plain["time"])
    assert_recent(plain["time"])
    assert {k: v for k, v in extra.items() if k != "time"} == {
        "level": "WARNING",
        "logger": "watershed.test",
        "message": "late events",
        "late": 12,
        "topic": "user-events",
    }
    assert list(failed) == ["time", "level", "logger", "message", "exc_info"]
    assert failed["exc_info"].startswith("Traceback (most recent call last):")
    assert failed["exc_info"].endswith("ValueError: bad row")


def test_configuring_again_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logs.configure("INFO", json=True)
    logging.getLogger("watershed.test").info("once")
    (line,) = lines(capsys.readouterr().err)
    assert json.loads(line)["message"] == "once"
    assert sum(isinstance(h, logs.StderrHandler) for h in logging.getLogger().handlers) == 1


def test_noisy_libraries_are_held_at_warning(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("DEBUG")
    for name in ("py4j", "py4j.clientserver", "kafka.conn", "urllib3.connectionpool"):
        logging.getLogger(name).info("chatter")
        logging.getLogger(name).warning("worth seeing")
    logging.getLogger("watershed.test").debug("ours at DEBUG")
    shown = [TEXT_LINE.match(line).groups()[1:] for line in lines(capsys.readouterr().err)]  # type: ignore[union-attr]
    assert shown == [
        ("WARNING", "py4j", "worth seeing"),
        ("WARNING", "py4j.clientserver", "worth seeing"),
        ("WARNING", "kafka.conn", "worth seeing"),
        ("WARNING", "urllib3.connectionpool", "worth seeing"),
        ("DEBUG", "watershed.test", "ours at DEBUG"),
    ]
    logs.configure("ERROR")
    logging.getLogger("py4j").warning("below ERROR")
    assert capsys.readouterr().err == ""


def test_uvicorns_dict_config_is_the_same_setup(capsys: pytest.CaptureFixture[str]) -> None:
    # what a uvicorn worker process applies: its own loggers through the one JSON handler
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler())
    logging.config.dictConfig(logs.dict_config(logging.INFO, json=True))
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42, extra={"color_message": "\x1b[1m"})
    logging.getLogger("watershed.collector").info("ready")
    logging.getLogger("kafka").info("chatter")
    started, ready = (json.loads(line) for line in lines(capsys.readouterr().err))
    assert {k: v for k, v in started.items() if k != "time"} == {
        "level": "INFO",
        "logger": "uvicorn.error",
        "message": "Started server process [42]",
    }
    assert ready["logger"] == "watershed.collector" and ready["message"] == "ready"
    assert logging.getLogger("uvicorn.error").handlers == []


@pytest.mark.parametrize(
    ("args", "env", "level"),
    [
        ([], None, logging.WARNING),
        (["-v"], None, logging.INFO),
        (["-vv"], None, logging.DEBUG),
        (["-vvv"], None, logging.DEBUG),
        (["--log-level", "error"], None, logging.ERROR),
        (["--log-level", "DEBUG", "-v"], None, logging.DEBUG),
        ([], "info", logging.INFO),
        (["-vv"], "ERROR", logging.DEBUG),
        (["--log-level", "critical"], "debug", logging.CRITICAL),
    ],
)
def test_the_cli_sets_the_level_once(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: str | None,
    level: int,
) -> None:
    if env is not None:
        monkeypatch.setenv("WATERSHED_LOG_LEVEL", env)
    assert main([*args, "config", "show"]) == 0
    assert logging.getLogger().level == level
    capsys.readouterr()
    logging.getLogger("watershed.test").log(level, "at the chosen level")
    logging.getLogger("watershed.test").log(level - 10, "below it")
    (line,) = lines(capsys.readouterr().err)
    assert TEXT_LINE.match(line).groups()[1:] == (  # type: ignore[union-attr]
        logging.getLevelName(level),
        "watershed.test",
        "at the chosen level",
    )


def test_an_unknown_level_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WATERSHED_LOG_LEVEL", "loud")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--log-level'" in err and "WATERSHED_LOG_LEVEL" in err and "'loud'" in err


# ---- the long-running services ------------------------------------------------------------------


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """uvicorn.run replaced: it records its arguments, applies log_config as uvicorn does, logs a line."""
    import uvicorn

    seen: dict[str, Any] = {}

    def run(app: str, **kwargs: Any) -> None:
        seen.update(kwargs, app=app)
        logging.config.dictConfig(kwargs["log_config"])
        logging.getLogger("uvicorn.error").info("Uvicorn running")

    monkeypatch.setattr(uvicorn, "run", run)
    return seen


def test_collector_serve_logs_json_lines_at_info(
    fake_uvicorn: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["collector", "serve", "--port", "18099"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("collector: {")
    (line,) = lines(captured.err)
    assert {k: v for k, v in json.loads(line).items() if k != "time"} == {
        "level": "INFO",
        "logger": "uvicorn.error",
        "message": "Uvicorn running",
    }
    assert fake_uvicorn["log_config"] == logs.dict_config(logging.INFO, json=True)
    assert fake_uvicorn["log_level"] == "info"  # WATERSHED_COLLECTOR_LOG_LEVEL still sets uvicorn's own level
    assert fake_uvicorn["port"] == 18099


def test_collector_serve_text_at_the_chosen_level(
    fake_uvicorn: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--log-level", "warning", "collector", "serve", "--log-format", "text"]) == 0
    assert capsys.readouterr().err == ""  # uvicorn's INFO line is below WARNING
    assert fake_uvicorn["log_config"] == logs.dict_config(logging.WARNING, json=False)
    logging.getLogger("watershed.collector").warning("Kafka: all brokers are down")
    (line,) = lines(capsys.readouterr().err)
    assert TEXT_LINE.match(line).groups()[1:] == (  # type: ignore[union-attr]
        "WARNING",
        "watershed.collector",
        "Kafka: all brokers are down",
    )


def _fake_land(monkeypatch: pytest.MonkeyPatch) -> None:
    import spark_jobs.cli
    import spark_jobs.landing.job

    def run_landing(spark: Any, settings: Any, **options: Any) -> dict[str, Any]:
        logging.getLogger("spark_jobs.landing").info("batch committed")
        return {"continuous": options["continuous"]}

    monkeypatch.setattr(spark_jobs.cli, "_session", lambda app: None)
    monkeypatch.setattr(spark_jobs.landing.job, "run_landing", run_landing)


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["land", "--continuous"], "json"),
        (["land", "--continuous", "--log-format", "text"], "text"),
        (["-v", "land"], "text"),
        (["land"], None),  # one-shot: WARNING, the INFO line is not shown
        (["-v", "land", "--log-format", "json"], "json"),
    ],
)
def test_land_continuous_logs_json_lines_at_info(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], shown: str | None
) -> None:
    _fake_land(monkeypatch)
    assert main(args) == 0
    err = lines(capsys.readouterr().err)
    if shown is None:
        assert err == []
    elif shown == "json":
        (line,) = err
        assert {k: v for k, v in json.loads(line).items() if k != "time"} == {
            "level": "INFO",
            "logger": "spark_jobs.landing",
            "message": "batch committed",
        }
    else:
        (line,) = err
        assert TEXT_LINE.match(line).groups()[1:] == ("INFO", "spark_jobs.landing", "batch committed")  # type: ignore[union-attr]


def test_stream_run_logs_json_lines_at_info(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from spark_jobs.streaming import job

    def run(settings: Any, config: Any) -> dict[str, Any]:
        logging.getLogger("spark_jobs.streaming.job").info("webhooks: %s", {"slack": 0})
        return {"status": "stopped", "queries": []}

    monkeypatch.setattr(job, "run", run)
    assert main(["stream", "run", "--home", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"status": "stopped", "queries": []}
    (line,) = lines(captured.err)
    assert {k: v for k, v in json.loads(line).items() if k != "time"} == {
        "level": "INFO",
        "logger": "spark_jobs.streaming.job",
        "message": "webhooks: {'slack': 0}",
    }
    monkeypatch.setenv("WATERSHED_LOG_LEVEL", "error")  # a chosen level wins over the services' INFO
    assert main(["stream", "run", "--home", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
