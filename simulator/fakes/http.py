"""The fakes' HTTP servers: a threading server on loopback in a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """``handler`` served on ``host:port`` (loopback by default; port 0: a free one) until
    :meth:`stop`. A container binds 0.0.0.0 so its neighbours reach it."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], port: int = 0, *, name: str, host: str = "127.0.0.1"
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
