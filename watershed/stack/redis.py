"""redis-server, the live counter store of the local stack."""

from __future__ import annotations

import shutil
from typing import Any

from watershed.errors import StackError
from watershed.stack.process import port_open
from watershed.stack.service import Service


class Redis(Service):
    """Debian's redis-server: the store of the real-time job's live ad counters.

    Persistence: the append-only file is on (fsync every second, RDB snapshots off), so the
    counters survive a restart of Redis and stay in step with the Spark checkpoints that decide
    which batches were applied; a crash of the machine may lose the last second.
    """

    name = "redis"
    startup_timeout = 30.0

    @property
    def ports(self) -> dict[str, int]:
        return {"redis": self.settings.redis_port}

    @property
    def address(self) -> str:
        return f"redis://127.0.0.1:{self.settings.redis_port}"

    def check_installed(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                "redis-server is missing (the live ad counters need it): run `make setup` as root, "
                "or install Debian's package: apt-get install redis-server"
            )
        self.binary = binary

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [self.binary, "--bind", "127.0.0.1", "--port", str(self.settings.redis_port),
                "--dir", str(self.home), "--daemonize", "no", "--logfile", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]  # fmt: skip

    def _client(self) -> Any:
        import redis

        return redis.Redis(port=self.settings.redis_port, socket_connect_timeout=2, socket_timeout=2)

    def healthy(self) -> bool:
        import redis

        if not port_open(self.settings.redis_port):
            return False
        client = self._client()
        try:
            return bool(client.ping())
        except redis.RedisError:  # e.g. LOADING while it replays the append-only file
            return False
        finally:
            client.close()

    def detail(self) -> str:
        import redis

        client = self._client()
        try:
            return f"{client.dbsize()} keys, appendonly {client.config_get('appendonly')['appendonly']}"
        except redis.RedisError:
            return ""
        finally:
            client.close()
