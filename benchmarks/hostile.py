"""Hostile peers against an HTTP server limited to 256 file descriptors (the macOS default):
300 idle sockets and 5,000 sessions opened and abandoned. Afterwards a new client must still
connect and call a tool within 2 s, and the server's memory must be back within 20 MB of where
it started."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import psutil
from anyio.abc import ByteStream
from mcp import Client

from benchmarks.harness import (
    ROOT,
    Figure,
    _streamable,
    _wait_listening,
    fake_daemon,
    free_port,
    scratch_dir,
    server_env,
    stop_process,
)
from tests.http_helpers import INITIALIZE, MCP_HEADERS

FD_LIMIT = 256
START = (
    "import os, resource, sys; "
    "nofile = resource.RLIMIT_NOFILE; "
    "resource.setrlimit(nofile, ({limit}, resource.getrlimit(nofile)[1])); "
    "os.execv(sys.executable, [sys.executable, '-m', 'mcp_ollama', '--transport', 'http', "
    "'--port', '{port}'])"
)


@asynccontextmanager
async def limited_server(env: dict[str, str]) -> AsyncIterator[tuple[str, psutil.Process]]:
    """Our server over streamable HTTP with `FD_LIMIT` file descriptors; its URL and process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", START.format(limit=FD_LIMIT, port=port)],
        env=env,
        cwd=str(ROOT),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_listening(port, process, 60)
        yield f"http://127.0.0.1:{port}", psutil.Process(process.pid)
    finally:
        stop_process(process)


async def _call_a_tool(base: str) -> float:
    """Seconds for a new client to connect and call list_local_models."""
    started = time.perf_counter()
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(_streamable(f"{base}/mcp", http)) as client,
    ):
        result = await client.call_tool("list_local_models", {})
    if result.is_error:
        raise RuntimeError(f"list_local_models failed: {result.content}")
    return time.perf_counter() - started


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


async def hostile_peers(*, quick: bool = False) -> list[Figure]:
    """300 idle sockets and 5,000 abandoned sessions, then a new client; memory before/after."""
    sockets_count = 300
    sessions = 500 if quick else 5000
    with fake_daemon() as handle, scratch_dir() as tmp:
        async with limited_server(server_env(handle, tmp, MCP_OLLAMA_TOOLS="all")) as (base, proc):
            await _call_a_tool(base)  # warm: every module imported, the model list cached
            before = _rss_mb(proc)
            async with contextlib.AsyncExitStack() as stack:
                idle: list[ByteStream] = []
                for _ in range(sockets_count):
                    with contextlib.suppress(OSError):
                        idle.append(await stack.enter_async_context(await _connect(base)))
                fds_with_sockets = proc.num_fds()
                with_sockets = await _call_a_tool(base)  # all 300 still open
                async with httpx2.AsyncClient(timeout=30) as http:
                    refused = 0
                    for _ in range(sessions):
                        answer = await http.post(
                            f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS
                        )
                        refused += answer.status_code != 200
                peak = _rss_mb(proc)
                after_sessions = await _call_a_tool(base)
            seconds = max(with_sockets, after_sessions)
            # Every abandoned socket and session is gone or capped: let the allocator settle.
            await anyio.sleep(1)
            after = _rss_mb(proc)
    growth = after - before
    detail = {
        "fd_limit": FD_LIMIT,
        "idle_sockets": sockets_count,
        "idle_sockets_opened": len(idle),
        "abandoned_sessions": sessions,
        "sessions_refused": refused,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_after_mb": after,
        "server_fds_with_idle_sockets_open": fds_with_sockets,
        "new_client_with_idle_sockets_s": with_sockets,
        "new_client_after_sessions_s": after_sessions,
    }
    return [
        Figure(
            f"new client after {sockets_count} idle sockets + {sessions} sessions",
            seconds,
            "s",
            "< 2 s",
            seconds < 2,
            detail,
        ),
        Figure("RSS after the hostile load", growth, "MB", "< 20 MB", growth < 20, detail),
        Figure("sessions refused during the load", refused, "", "0", refused == 0, detail),
    ]


async def _connect(base: str) -> ByteStream:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return await anyio.connect_tcp(host, int(port))


if __name__ == "__main__":  # pragma: no cover - a quick manual run
    for figure in anyio.run(lambda: hostile_peers(quick="--quick" in sys.argv)):
        print(figure.name, round(figure.value, 3), figure.unit, figure.detail)
    os._exit(0)
