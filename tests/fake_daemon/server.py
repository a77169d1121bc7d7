"""Serving a `FakeOllama` on real loopback sockets: `FakeServerHandle` (uvicorn in a background
thread, stoppable and restartable on the same port), `serve_fake_ollama`, and `main`, which
runs the fake as a process (``python -m tests.fake_ollama``) with the real daemon's log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import anyio
import uvicorn

from tests.fake_cli.goparse import parse_ollama_host
from tests.fake_daemon.goformat import go_quote
from tests.fake_daemon.state import FakeOllama
from tests.fake_daemon.wire import OLLAMA_VERSION


class _Server(uvicorn.Server):
    """uvicorn.Server that notices ``should_exit`` every 20 ms instead of every 100 ms."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            await anyio.sleep(0.02)
            should_exit = await self.on_tick(counter)


class FakeServerHandle:
    """A `FakeOllama` served by uvicorn on a loopback port in a background thread."""

    def __init__(self, fake: FakeOllama, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: threading.Event | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def ollama_host(self) -> str:
        """The value to put in ``OLLAMA_HOST`` (``host:port``)."""
        return self.url.removeprefix("http://")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart on the same port) and wait until it accepts connections."""
        if self.running:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto
        # says TCP. Without it Nagle holds the body behind the headers until the client's
        # delayed ACK (~40 ms per keep-alive request), as the real daemon (Go: NODELAY) never does.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        stop_event = threading.Event()
        config = uvicorn.Config(
            self.fake.app(stop_event=stop_event),
            host=self.host,
            port=self._port,
            log_level="warning",
            lifespan="off",
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-ollama-{self._port}",
            daemon=True,
        )
        self._server, self._thread, self._stop_event = server, thread, stop_event
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                sock.close()
                self._server = self._thread = None
                raise RuntimeError("fake ollama server failed to start")
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"fake ollama server did not start within {timeout} s")
            time.sleep(0.002)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (connections are refused afterwards); in-flight streams are cut."""
        server, thread, stop_event = self._server, self._thread, self._stop_event
        if server is None or thread is None:
            return
        if stop_event is not None:
            stop_event.set()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = self._stop_event = None
        if thread.is_alive():
            raise RuntimeError("fake ollama server did not stop")

    def restart(self, timeout: float = 10.0) -> None:
        self.stop(timeout)
        self.start(timeout)

    def __repr__(self) -> str:
        return f"<FakeServerHandle {self.url} running={self.running}>"


@contextlib.contextmanager
def serve_fake_ollama(
    fake: FakeOllama | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    timeout: float = 10.0,
) -> Iterator[FakeServerHandle]:
    """Serve ``fake`` (a new `FakeOllama` by default) on ``host:port`` for the ``with`` block."""
    handle = FakeServerHandle(fake if fake is not None else FakeOllama(), host, port)
    handle.start(timeout)
    try:
        yield handle
    finally:
        handle.stop(timeout)


def _slog(message: str, level: str = "INFO", source: str = "routes.go:1", **extra: str) -> str:
    stamp = dt.datetime.now().astimezone().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = " ".join(f"{k}={go_quote(v)}" for k, v in extra.items())
    return f"time={stamp} level={level} source={source} msg={go_quote(message)}" + (
        f" {fields}" if fields else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_ollama", description="Serve a fake Ollama daemon."
    )
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--tokens-per-second", type=float, default=None)
    parser.add_argument("--ttft", type=float, default=None)
    parser.add_argument("--load-duration", type=float, default=None)
    parser.add_argument("--log-file", default=None, help="also append log lines to this file")
    parser.add_argument("--no-request-log", action="store_true")
    args = parser.parse_args(argv)

    env_host, env_port = parse_ollama_host(os.environ.get("OLLAMA_HOST"), listen=True)
    host = args.host if args.host is not None else env_host
    port = args.port if args.port is not None else env_port

    log_file = args.log_file

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        if log_file:
            with open(log_file, "a", encoding="utf-8") as handle_file:
                handle_file.write(line + "\n")

    fake = FakeOllama()
    if args.tokens_per_second is not None:
        fake.tokens_per_second = args.tokens_per_second
    if args.ttft is not None:
        fake.ttft = args.ttft
    if args.load_duration is not None:
        fake.load_duration = args.load_duration
    fake.log_requests = not args.no_request_log

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    shown_host = f"[{host}]" if ":" in host else host
    try:
        handle = FakeServerHandle(fake, host, port)
        handle.start()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        print(f"Error: listen tcp {shown_host}:{port}: bind: {reason}", file=sys.stderr, flush=True)
        return 1
    try:
        env = f"map[OLLAMA_HOST:{shown_host}:{handle.port} OLLAMA_KEEP_ALIVE:5m0s]"
        log(_slog("server config", env=env))
        log(_slog(f"Listening on {shown_host}:{handle.port} (version {OLLAMA_VERSION})"))
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
    return 0
