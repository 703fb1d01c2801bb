"""PostgreSQL, the local stack's metadata database (Airflow's, so far).

Airflow runs four processes (scheduler, dag-processor, triggerer, api-server) plus one per task,
and the CLI writes too. On SQLite they share one write lock, and a fresh clone's CI run failed
`airflow backfill create` with "database is locked" even with a 60-second busy wait: SQLite
refuses at once, without waiting, when a connection that is reading asks to write while another
holds the write lock (it would deadlock). Airflow's documentation calls SQLite a development-only
backend for that reason; PostgreSQL is what it runs on in production, and what compose runs.

The server is Debian's (``apt-get install postgresql``), run from its binaries as a plain process
with its data under the state folder, on loopback only, with password authentication for the
role ``watershed``. PostgreSQL will not run as root: started by root (a container, CI), it runs
in a user namespace that maps root to the ``postgres`` user, so its files stay root's and the
state folder needs no other permissions.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

from watershed.errors import StackError
from watershed.stack.process import port_open
from watershed.stack.service import Service, write_private

SUPERUSER = "watershed"
DATABASES = ("airflow",)
_BINARIES = ("postgres", "initdb")


def find_bindir() -> Path | None:
    """The folder of PostgreSQL's server binaries: on the PATH, else Debian's newest
    /usr/lib/postgresql/<major>/bin."""
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if all((Path(folder) / b).is_file() for b in _BINARIES):
            return Path(folder)
    return None


def as_non_root(argv: list[str]) -> list[str]:
    """`argv` as PostgreSQL accepts it: unchanged for a normal user; for root, inside a user
    namespace where root appears as the `postgres` user (or `nobody`)."""
    if os.geteuid() != 0:
        return argv
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = pwd.getpwnam("nobody")
    return ["unshare", "--user", f"--map-user={user.pw_uid}", f"--map-group={user.pw_gid}", *argv]


class Postgres(Service):
    name = "postgres"
    startup_timeout = 60.0
    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave; SIGINT
    # ("fast") disconnects them, finishes a checkpoint and exits cleanly
    stop_signal = signal.SIGINT

    @property
    def ports(self) -> dict[str, int]:
        return {"postgres": self.settings.postgres_port}

    @property
    def address(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.settings.postgres_port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def password(self) -> str:
        """The role's password: WATERSHED_POSTGRES_PASSWORD, else the one generated at the first
        start (kept in the state folder, readable by its owner only)."""
        if self.settings.postgres_password is not None:
            return self.settings.postgres_password.get_secret_value()
        if not self.password_file.exists():
            write_private(self.password_file, secrets.token_urlsafe(18))
        return self.password_file.read_text().strip()

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """A SQLAlchemy URL of `database` (holds the password: never print it)."""
        return f"postgresql+{driver}://{SUPERUSER}:{self.password}@127.0.0.1:{self.settings.postgres_port}/{database}"

    def check_installed(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise StackError(
                "PostgreSQL is missing (Airflow's metadata database needs it): run `make setup` as root, "
                "or install Debian's package: apt-get install postgresql"
            )
        if os.geteuid() == 0 and shutil.which("unshare") is None:
            raise StackError(
                "PostgreSQL does not run as root, and `unshare` (util-linux) is missing to run it as another user"
            )
        self.bindir = bindir

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / "PG_VERSION").exists():
            return
        pwfile = self.home / "initdb.pw"
        write_private(pwfile, self.password + "\n")
        try:
            initdb = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                      f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                      "--no-instructions"]  # fmt: skip
            done = subprocess.run(
                as_non_root(initdb),
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            pwfile.unlink()
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise StackError(f"initdb failed: {(done.stderr or done.stdout).strip()[-800:]}")

    def command(self) -> list[str]:
        return as_non_root([
            str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.settings.postgres_port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            # Airflow opens a pool per process and one per running task
            "-c", "max_connections=200",
            # logical decoding, for change data capture from this server
            "-c", "wal_level=logical",
        ])  # fmt: skip

    def _connect(self, database: str = "postgres") -> Any:
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.settings.postgres_port, user=SUPERUSER, password=self.password,
            dbname=database, connect_timeout=3,
        )  # fmt: skip

    def healthy(self) -> bool:
        import psycopg2

        if not port_open(self.settings.postgres_port):
            return False
        try:
            with closing(self._connect()) as conn, conn.cursor() as cur:
                cur.execute("select 1")
                return cur.fetchone() == (1,)
        except psycopg2.Error:  # e.g. "the database system is starting up"
            return False

    def provision(self) -> None:
        conn = self._connect()
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                for database in DATABASES:
                    cur.execute("select 1 from pg_database where datname = %s", (database,))
                    if cur.fetchone() is None:
                        cur.execute(f'create database "{database}"')
        finally:
            conn.close()

    def detail(self) -> str:
        import psycopg2

        try:
            with closing(self._connect()) as conn, conn.cursor() as cur:
                cur.execute("show server_version")
                (version,) = cur.fetchone()
                cur.execute(
                    "select datname from pg_database where not datistemplate and datname <> 'postgres' order by 1"
                )
                names = [r[0] for r in cur.fetchall()]
        except psycopg2.Error:
            return ""
        return f"PostgreSQL {version.split()[0]}, databases {', '.join(names)}"
