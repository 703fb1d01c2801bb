"""Logging, set up once by the ``watershed`` command: one handler on stderr for every logger.

:func:`configure` installs it. A text line (one-shot commands)::

    2026-12-03T10:15:02.123Z WARNING watershed.collector: Kafka: all brokers are down (...)

A JSON line (``json=True``, the long-running services), one object per line with the keys ``time``
(UTC, ISO 8601, milliseconds), ``level``, ``logger`` and ``message``, then ``exc_info`` (the formatted
traceback) when the record carries an exception, ``stack_info`` when it carries a stack, then the
record's ``extra`` fields::

    {"time": "2026-12-03T10:15:02.123Z", "level": "INFO", "logger": "uvicorn.error", "message": "..."}

The CLI entry picks the level (``-v``, ``--log-level``, ``WATERSHED_LOG_LEVEL``; WARNING by
default); the long-running services call :func:`configure_service`, which switches to JSON lines at
INFO unless a level was chosen. :func:`dict_config` is the same setup as a :mod:`logging.config`
dictionary, for uvicorn, which applies it in each of its worker processes. Noisy libraries (py4j,
kafka, urllib3) are held at WARNING. Standard library only.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from watershed.errors import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_ENV = "WATERSHED_LOG_LEVEL"
# Where the CLI entry records the level the user chose (click's per-invocation ``ctx.meta``).
CHOSEN_LEVEL = "watershed.log_level"
# Libraries whose INFO and DEBUG lines drown everything else: held at WARNING (or the level, if higher).
NOISY = ("py4j", "kafka", "urllib3")
# uvicorn's loggers: no handlers of their own, everything goes to the root's one handler.
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

# Attributes every LogRecord has; anything else on a record came from ``extra=`` (except uvicorn's
# ``color_message``, its message again with terminal colours).
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<UTC ISO time> <LEVEL> <logger>: <message>``, a traceback on the lines below."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, exc_info (if any), extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS:
                line.setdefault(key, value)
        return jsonlib.dumps(line, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (so a command run under a test
    runner that swaps stderr writes into the swapped stream, and a closed one is never kept)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> Any:
        return sys.stderr


def level_number(level: int | str) -> int:
    """``"info"`` / ``"INFO"`` / ``20`` -> 20; an unknown name raises :class:`ConfigError`."""
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"{LEVEL_ENV}: unknown log level {level!r} (expected one of {', '.join(LEVELS)})")
    return int(logging.getLevelName(name))


def configure(level: int | str, json: bool = False) -> None:
    """Send every logger's records at ``level`` and above to stderr, as text or JSON lines.

    Calling it again replaces the handler it installed (handlers others added to the root logger,
    such as a test runner's, are left alone)."""
    number = level_number(level)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(number)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, number))
    for name in UVICORN:
        logger = logging.getLogger(name)
        for own in list(logger.handlers):
            logger.removeHandler(own)
        logger.setLevel(logging.NOTSET)  # the root's level, whatever an earlier uvicorn.Config set
        logger.propagate = True


def dict_config(level: int | str, json: bool = False) -> dict[str, Any]:
    """What :func:`configure` sets up, as a :func:`logging.config.dictConfig` dictionary (uvicorn's
    ``log_config``: it applies it in every worker process it starts)."""
    number = level_number(level)
    formatter = JsonFormatter if json else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"watershed": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "watershed": {"()": f"{StderrHandler.__module__}.{StderrHandler.__qualname__}", "formatter": "watershed"}
        },
        "root": {"level": logging.getLevelName(number), "handlers": ["watershed"]},
        "loggers": {
            **{name: {"level": logging.getLevelName(max(logging.WARNING, number))} for name in NOISY},
            **{name: {"level": "NOTSET", "handlers": [], "propagate": True} for name in UVICORN},
        },
    }


def chosen_level() -> int | None:
    """The level the user asked for: the CLI entry's choice (``-v``, ``--log-level`` or
    ``WATERSHED_LOG_LEVEL``), or ``WATERSHED_LOG_LEVEL`` for a command run without the entry."""
    context = click.get_current_context(silent=True)
    if context is not None and CHOSEN_LEVEL in context.meta:
        chosen: int | None = context.meta[CHOSEN_LEVEL]
        return chosen
    from_env = os.environ.get(LEVEL_ENV)
    return level_number(from_env) if from_env else None


def configure_service(log_format: str = "json", default_level: int = logging.INFO) -> dict[str, Any]:
    """Logging of a long-running service: JSON lines (``log_format="json"``) or text, at
    ``default_level`` unless the user chose a level. Returns the same setup as :func:`dict_config`
    (uvicorn's ``log_config``)."""
    if log_format not in ("json", "text"):
        raise ConfigError(f"unknown log format {log_format!r} (expected json or text)")
    level = chosen_level() or default_level
    configure(level, json=log_format == "json")
    return dict_config(level, json=log_format == "json")


def log_format_option(default: str | None = "json") -> Any:
    """The ``--log-format json|text`` option of a long-running command."""
    shown = f"default {default}" if default else "default json with --continuous, text otherwise"
    return click.option(
        "--log-format",
        type=click.Choice(["json", "text"]),
        default=default,
        help=f"Log lines on stderr: one JSON object per line, or text [{shown}].",
    )
