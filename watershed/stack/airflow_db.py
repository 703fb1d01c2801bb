"""Connection arguments for the local Airflow's SQLite metadata database.

`watershed stack up` runs Airflow's scheduler, dag-processor, triggerer and api-server as separate
processes on one SQLite file, and the CLI (`airflow backfill create`, `airflow dags unpause`)
writes to it too. SQLite has one writer at a time, and Python's sqlite3 gives up on a locked
database after 5 seconds: on a busy 2-core laptop the scheduler can hold the lock longer (a
fresh clone's CI run failed `airflow backfill create` with "database is locked" right after an
unpause). Waiting up to a minute turns that into a short wait. Airflow imports these dicts by
path: ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`` (sqlite3) and ``..._ASYNC`` (aiosqlite).
"""

SQLITE_WAIT_SECONDS = 60.0

SQLITE_CONNECT_ARGS = {"timeout": SQLITE_WAIT_SECONDS}
SQLITE_CONNECT_ARGS_ASYNC = {"timeout": SQLITE_WAIT_SECONDS}
