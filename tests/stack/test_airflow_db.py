"""The local Airflow's processes wait for SQLite's write lock instead of failing after 5 s."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from watershed.settings import Settings
from watershed.stack.airflow import Airflow

# run inside Airflow's own settings module, with the stack's environment: the engines' busy timeout
PROBE = """
import asyncio
from sqlalchemy import text
import airflow.settings as s
with s.engine.connect() as c:
    print(c.execute(text("pragma busy_timeout")).scalar())
async def probe():
    async with s.async_engine.connect() as c:
        print((await c.execute(text("pragma busy_timeout"))).scalar())
    await s.async_engine.dispose()
asyncio.run(probe())
"""


def test_the_stack_gives_both_of_airflows_engines_a_60_second_sqlite_wait(tmp_path: Path) -> None:
    env = Airflow(Settings(state_dir=tmp_path)).environment()
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["60000", "60000"]


def test_a_writer_waits_for_a_held_lock_with_those_arguments(tmp_path: Path) -> None:
    from watershed.stack.airflow_db import SQLITE_CONNECT_ARGS

    db = tmp_path / "airflow.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("create table t (x int)")
    holder.execute("begin immediate")  # the write lock, as a scheduler transaction holds it
    holder.execute("insert into t values (1)")
    threading.Timer(1.0, lambda: holder.execute("commit")).start()

    impatient = sqlite3.connect(db, timeout=0.1, check_same_thread=False)
    with pytest.raises(sqlite3.OperationalError, match=r"^database is locked$"):
        impatient.execute("insert into t values (2)")  # Python's default wait is 5 s; this one 0.1 s
    patient = sqlite3.connect(db, **SQLITE_CONNECT_ARGS)
    patient.execute("insert into t values (3)")
    patient.commit()
    assert [r[0] for r in patient.execute("select x from t order by x")] == [1, 3]
