"""Start, find and stop the background processes of the local stack.

Each service runs in its own session (process group) so ``stop`` can end it with everything it
spawned. A pid file records the pid and the process start time, so a recycled pid is never
mistaken for ours and ``down`` only ever stops what ``up`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; it is wrapped in parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    state = fields[0]
    if state == "Z":  # a zombie has exited
        return None
    return int(fields[19])


@dataclass(frozen=True)
class PidFile:
    path: Path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": pid, "start": _start_ticks(pid)}))

    def running_pid(self) -> int | None:
        """The recorded pid if that very process is still alive, else None."""
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])
        start = _start_ticks(pid)
        if start is None or start != record.get("start"):
            return None
        return pid

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def spawn(argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start `argv` detached in a new session, output appended to `log`; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every live (non-zombie) process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return table


def family(pid: int) -> set[int]:
    """`pid`, its process group and all their descendants, even those that started a session
    of their own (Airflow's components do)."""
    table = _proc_table()
    members = {p for p, (_, group) in table.items() if group == pid}
    if pid in table:
        members.add(pid)
    grew = True
    while grew:
        children = {p for p, (parent, _) in table.items() if parent in members} - members
        members |= children
        grew = bool(children)
    return members


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _alive(pids: set[int]) -> set[int]:
    for pid in pids:  # reap our own exited children so they do not linger as zombies
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
    table = _proc_table()
    return {p for p in pids if p in table}


def is_alive(pid: int) -> bool:
    """Whether `pid` still runs (an exited child of ours is reaped)."""
    return bool(_alive({pid}))


def terminate(pid: int, *, grace: float = 30.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send `sig` to the service and everything it started, wait up to `grace` seconds, then
    SIGKILL whatever is left; returns once none of them runs."""
    members = family(pid)
    _signal_all(members, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        members = _alive(members | family(pid))
        if not members:
            return
        time.sleep(0.2)
    _signal_all(members | family(pid), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(members) and time.monotonic() < deadline:
        time.sleep(0.1)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when we could bind host:port (nobody listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """`preferred` if nobody listens there, else a free port the OS picks."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port")
