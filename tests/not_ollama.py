"""A web server that is not Ollama, on loopback: every path is an HTML 404 page (a wrong port in
OLLAMA_HOST or in a host's url)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["serve_not_ollama"]


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Every path is an HTML 404 page."""

    def do_GET(self) -> None:
        self.send_error(404)

    def do_POST(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_not_ollama() -> Iterator[str]:
    """Serve it; yields its address (`127.0.0.1:PORT`)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
