"""What every local service is: its ports, command line, data directory, health and what it
provisions once healthy. `Stack` drives them all the same way."""

from __future__ import annotations

import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watershed.settings import Settings
from watershed.stack.process import PidFile

Echo = Callable[[str], None]


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (a password, a webhook URL, a routing key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


@dataclass(frozen=True)
class Status:
    name: str
    state: str  # "running", "unhealthy" or "stopped"
    pid: int | None
    address: str
    detail: str = ""


class Service(ABC):
    name: str
    startup_timeout: float = 120.0
    # the services this one needs running first (the stack starts them too, and stops them after)
    requires: tuple[str, ...] = ()
    stop_signal: signal.Signals = signal.SIGTERM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / self.name
        self.log = settings.state_dir / "logs" / f"{self.name}.log"
        self.pidfile = PidFile(settings.state_dir / "run" / f"{self.name}.pid")

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Every port the service listens on, by role ("broker", "controller", "s3")."""

    @property
    @abstractmethod
    def address(self) -> str: ...

    def check_installed(self) -> None:
        """Raise StackError naming the missing piece when the service cannot run here."""

    def prepare(self) -> None:
        """Create data directories and configuration before the first start."""

    @abstractmethod
    def command(self) -> list[str]: ...

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def client_environment(self) -> dict[str, str]:
        """What a client (a CLI run by hand) needs in its environment to use this service."""
        return {}

    @abstractmethod
    def healthy(self) -> bool: ...

    def provision(self) -> None:
        """Create what the platform needs inside the running service (idempotent)."""

    def detail(self) -> str:
        return ""
