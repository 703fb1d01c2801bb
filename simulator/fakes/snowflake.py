"""Snowflake at the wire, for what cannot exist here: the REST protocol snowflake-connector-python
speaks (login, query, session close), answering queries from a DuckDB file.

The connector is pointed at it with ``host``/``port``/``protocol="http"`` (the settings
``WATERSHED_SNOWFLAKE_HOST``, ``..._PORT``, ``..._PROTOCOL``); results go back in Snowflake's
JSON result format (``rowtype`` + ``rowset``, every value as text, timestamps as epoch seconds),
which the connector decodes itself. Each statement is parsed in Snowflake's dialect and run on
DuckDB (sqlglot transpiles it), with the connector's server-side bindings as parameters, so
``select max(occurred_at) from MARTS.FCT_USER_EVENTS`` reads the DuckDB marts. Every request is
kept (``requests``) for tests to read.
"""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from simulator.fakes.http import LoopbackServer


def _snowflake_type(value: Any) -> tuple[str, int | None]:
    """The result column type Snowflake would declare for a DuckDB value (type, scale)."""
    if isinstance(value, bool):
        return "boolean", None
    if isinstance(value, int):
        return "fixed", 0
    if isinstance(value, float | Decimal):
        return "real", None
    if isinstance(value, datetime):
        return ("timestamp_tz" if value.tzinfo else "timestamp_ntz"), 9
    if isinstance(value, date):
        return "date", None
    return "text", None


def _text(value: Any, kind: str) -> str | None:
    """A value as Snowflake's JSON rowset carries it."""
    if value is None:
        return None
    if kind == "timestamp_ntz":
        epoch = datetime(1970, 1, 1)
        delta = value - epoch
        return f"{delta.days * 86400 + delta.seconds}.{delta.microseconds:06d}000"
    if kind == "timestamp_tz":
        offset = int(value.utcoffset().total_seconds() // 60) + 1440
        return f"{value.timestamp():.9f} {offset}"
    if kind == "date":
        return str((value - date(1970, 1, 1)).days)
    if kind == "boolean":
        return "1" if value else "0"
    return str(value)


def _bound(bindings: dict[str, dict[str, str]]) -> list[Any]:
    """The connector's server-side bindings (qmark) as Python values, in order."""

    def value(kind: str, text: str | None) -> Any:
        if text is None:
            return None
        if kind == "DATE":  # milliseconds since the epoch
            return date(1970, 1, 1) + timedelta(milliseconds=int(text))
        if kind.startswith("TIMESTAMP"):  # nanoseconds since the epoch (UTC)
            return datetime(1970, 1, 1) + timedelta(microseconds=int(text.split()[0]) // 1000)
        if kind == "FIXED":
            return int(text)
        if kind == "REAL":
            return float(text)
        if kind == "BOOLEAN":
            return text.lower() in ("1", "true")
        return text

    return [value(b["type"], b.get("value")) for _, b in sorted(bindings.items(), key=lambda item: int(item[0]))]


class FakeSnowflake:
    """The fake's server on loopback, answering from the DuckDB file ``database``."""

    def __init__(self, database: Path, port: int = 0) -> None:
        self.database = database
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handler(), port, name="fake-snowflake")
        self.port = self._server.port

    def stop(self) -> None:
        self._server.stop()

    def run(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The statement as Snowflake would take it: parsed in Snowflake's dialect (sqlglot), a
        quoted lower-case identifier refused (Snowflake stores unquoted names upper-case, so it
        names nothing there), then run on DuckDB; names come back upper-case, as Snowflake's do."""
        import duckdb
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read="snowflake")
        for identifier in tree.find_all(exp.Identifier):
            if identifier.quoted and identifier.name != identifier.name.upper():
                raise ValueError(f"invalid identifier '\"{identifier.name}\"'")
        with duckdb.connect(str(self.database), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            cursor = con.execute(tree.sql(dialect="duckdb"), params or [])
            names = [d[0].upper() for d in cursor.description or []]
            return names, cursor.fetchall()

    def _answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/session/v1/login-request":
            login = body.get("data", {})
            return {
                "data": {
                    "token": f"token-{uuid.uuid4()}", "masterToken": f"master-{uuid.uuid4()}",
                    "validityInSeconds": 3600, "masterValidityInSeconds": 14400, "sessionId": 1,
                    "parameters": [], "sessionInfo": {
                        "databaseName": login.get("SESSION_PARAMETERS", {}).get("DATABASE", "WATERSHED"),
                        "schemaName": None, "warehouseName": None, "roleName": None,
                    },
                },
                "code": None, "message": None, "success": True,
            }  # fmt: skip
        if path == "/queries/v1/query-request":
            try:
                names, rows = self.run(body["sqlText"], _bound(body.get("bindings") or {}))
            except Exception as error:  # a failed statement is Snowflake's error answer, not a crash
                return {"data": {"queryId": str(uuid.uuid4()), "sqlState": "42000"}, "code": "002003",
                        "message": f"SQL compilation error: {error}", "success": False}  # fmt: skip
            sample = rows[0] if rows else (None,) * len(names)
            kinds = [_snowflake_type(v) for v in sample]
            rowtype = [
                {"name": n, "type": k, "scale": scale, "precision": 38 if k == "fixed" else None, "nullable": True,
                 "length": None, "byteLength": None, "database": "", "schema": "", "table": "", "collation": None}
                for n, (k, scale) in zip(names, kinds, strict=True)
            ]  # fmt: skip
            rowset = [[_text(v, k) for v, (k, _) in zip(row, kinds, strict=True)] for row in rows]
            return {
                "data": {
                    "parameters": [], "rowtype": rowtype, "rowset": rowset, "total": len(rows),
                    "returned": len(rows), "queryId": str(uuid.uuid4()), "queryResultFormat": "json",
                    "statementTypeId": 4096, "finalDatabaseName": "WATERSHED",
                },
                "code": None, "message": None, "success": True,
            }  # fmt: skip
        # session close, heartbeats, telemetry: acknowledged
        return {"data": {}, "code": None, "message": None, "success": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: tests read fake.requests
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw or b"{}")
                path = urlparse(self.path).path
                with fake._lock:
                    fake.requests.append({"path": path, "body": body})
                answer = json.dumps(fake._answer(path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler
