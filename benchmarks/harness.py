"""What every benchmark shares: the fake daemon, servers spawned as users run them, statistics
and the `Figure` each benchmark reports.

Servers run as subprocesses, exactly as an IDE spawns them (`python -m mcp_ollama`), next to the
floor: a bare `MCPServer` with one no-op tool (`bare_server.py`) spawned the same way. The fake
daemon runs in this process (a uvicorn thread), so its request log and token timestamps can be
read directly. Every figure compares a subject with a baseline measured in the same run,
alternating the two, because the machine's load changes from one minute to the next.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama

__all__ = [
    "BARE_SERVER",
    "MODEL",
    "Figure",
    "Server",
    "TimedFake",
    "fake_daemon",
    "http_server",
    "percentile",
    "server_env",
    "stdio_server",
    "stop_process",
]

ROOT = Path(__file__).resolve().parent.parent
BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"
MODEL = "llama3.2:1b"
OURS = ("-m", "mcp_ollama")


@dataclass
class Figure:
    """One row of the table: a measured value, the target it is held to, and the evidence."""

    name: str
    value: float
    unit: str
    target: str
    passed: bool | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The figure as plain JSON."""
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "unit": self.unit,
            "target": self.target,
            "passed": self.passed,
            "detail": self.detail,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else float("nan")


class TimedFake(FakeOllama):
    """The fake daemon, also recording when the first byte of each generate stream left it."""

    def __init__(self, **kwargs: Any) -> None:
        self.first_token_at: list[float] = []
        super().__init__(**kwargs)

    def app(self, *, stop_event: threading.Event | None = None) -> Any:
        """The fake's ASGI app, wrapped to timestamp the first body chunk of /api/generate."""
        inner: ASGIApp = super().app(stop_event=stop_event)
        record = self.first_token_at

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != "/api/generate":
                await inner(scope, receive, send)
                return
            first = True

            async def send_timed(message: Message) -> None:
                nonlocal first
                if first and message["type"] == "http.response.body" and message.get("body"):
                    first = False
                    # CLOCK_MONOTONIC is system-wide on Linux: comparable with any process.
                    record.append(time.monotonic())
                await send(message)

            await inner(scope, receive, send_timed)

        return timed


@contextlib.contextmanager
def fake_daemon(
    *, tokens_per_second: float = 0.0, ttft: float = 0.0, response_tokens: int = 8
) -> Iterator[FakeServerHandle]:
    """The fake daemon on a free loopback port; `tokens_per_second=0` streams flat out."""
    fake = TimedFake(tokens_per_second=tokens_per_second, ttft=ttft)
    fake.response_tokens = response_tokens
    with serve_fake_ollama(fake) as handle:
        yield handle


def server_env(handle: FakeServerHandle, data_dir: Path, **extra: str) -> dict[str, str]:
    """A server's whole configuration: the fake daemon, a private data dir, default settings
    (an empty config file: one named by MCP_OLLAMA_CONFIG must exist)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").touch()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "PYTHONPATH": str(ROOT),
        "OLLAMA_HOST": handle.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(data_dir / "data"),
        "MCP_OLLAMA_CONFIG": str(data_dir / "config.toml"),
        # No `ollama` binary to start: the fake is the daemon.
        "MCP_OLLAMA_AUTO_START": "false",
        **extra,
    }


@dataclass
class Server:
    """A connected server subprocess: its MCP client and its process (for RSS and fds)."""

    client: Client
    process: psutil.Process

    def rss_mb(self) -> float:
        """Resident memory now, MB."""
        return float(self.process.memory_info().rss) / 2**20

    def fds(self) -> int:
        """Open file descriptors now (sockets, pipes, files)."""
        return int(self.process.num_fds())

    def connections(self) -> int:
        """Open TCP connections now."""
        return len(self.process.net_connections(kind="tcp"))


def _child_running(marker: str) -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(marker in part for part in child.cmdline()):
                return child
    raise RuntimeError(f"no server subprocess running {marker}")


def _argv(bare: bool) -> list[str]:
    return [sys.executable, str(BARE_SERVER)] if bare else [sys.executable, *OURS]


@asynccontextmanager
async def stdio_server(env: dict[str, str], *, bare: bool = False) -> AsyncIterator[Server]:
    """Our server (or the bare floor) spawned over stdio with a connected SDK client."""
    argv = _argv(bare)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=str(ROOT))
    with open(os.devnull, "w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            marker = "bare_server.py" if bare else "mcp_ollama"
            yield Server(client, _child_running(marker))


def free_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    with anyio.fail_after(timeout):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} at start")
            with contextlib.suppress(OSError):
                stream = await anyio.connect_tcp("127.0.0.1", port)
                await stream.aclose()
                return
            await anyio.sleep(0.02)


@asynccontextmanager
async def http_server(
    env: dict[str, str], *, bare: bool = False, timeout: float = 60.0
) -> AsyncIterator[Server]:
    """Our server (or the bare floor) over streamable HTTP on loopback, with a client."""
    port = free_port()
    argv = _argv(bare)
    argv += ["--transport", "http", "--port", str(port)]
    process = subprocess.Popen(
        argv, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await _wait_listening(port, process, timeout)
        # The SDK's default client gives up on reads after 30 s; a loaded soak may queue longer.
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http,
            Client(_streamable(f"http://127.0.0.1:{port}/mcp", http)) as client,
        ):
            yield Server(client, psutil.Process(process.pid))
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _streamable(url: str, http: httpx2.AsyncClient) -> Any:
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory for a server's data, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mcp-ollama-bench-") as name:
        yield Path(name)
