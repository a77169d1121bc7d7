"""Load and soak in the suite: 200 generate_text calls, 32 in flight, over streamable HTTP to a
server subprocess, asserting no failures and nothing left behind: daemon requests, file
descriptors, connections and asyncio tasks all return to where they were.

The 1,000-call version with figures is `python -m benchmarks soak`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
import psutil
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from benchmarks.harness import Server, stop_process
from benchmarks.soak import FD_SLACK, run_soak
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import free_port, poll

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
CALLS = 200
IN_FLIGHT = 32

# The server exactly as `mcp-ollama --transport http` runs it (settings from the environment,
# stderr logging, `http_app`, `uvicorn_config`), plus one route that counts its asyncio tasks.
PROBED_SERVER = """
import asyncio, sys
import anyio, uvicorn
from starlette.responses import JSONResponse
from mcp_ollama.log import configure_logging
from mcp_ollama.server import build_server
from mcp_ollama.server.transports import http_app, uvicorn_config
from mcp_ollama.settings import Settings

settings = Settings(transport="http", http_port=int(sys.argv[1]))
configure_logging(settings.log_level, json=settings.log_json)
app = http_app(build_server(settings), settings)

async def tasks(_request):
    return JSONResponse({"tasks": len(asyncio.all_tasks())})

app.add_route("/_tasks", tasks, methods=["GET"])
anyio.run(uvicorn.Server(uvicorn_config(app, settings)).serve)
"""


@contextmanager
def probed_server(fake_ollama: FakeServerHandle, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The server in a subprocess on a free port; yields its base URL and pid."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "child-data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_AUTO_START": "false",
        "MCP_OLLAMA_TOOLS": "all",
    }
    with (tmp_path / "server-stderr.log").open("w", encoding="utf-8") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-c", PROBED_SERVER, str(port)],
            env=env,
            cwd=str(ROOT),
            stdin=subprocess.DEVNULL,
            stdout=errlog,
            stderr=errlog,
        )
        try:
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            stop_process(process)


async def task_count(base: str) -> int:
    """The server's asyncio tasks now, over a connection that is closed afterwards."""
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{base}/_tasks")
    count: int = response.json()["tasks"]
    return count


async def until_ready(base: str) -> None:
    """Wait for the server's /health, bounded."""
    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(60):
            while True:
                try:
                    if (await http.get(f"{base}/health")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.02)


@asynccontextmanager
async def session(base: str) -> AsyncIterator[Client]:
    """One MCP session over streamable HTTP, terminated (DELETE) when the block ends."""
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=120)) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_200_calls_32_in_flight_over_http_all_succeed_and_leak_nothing(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    with probed_server(fake_ollama, tmp_path) as (base, pid):
        await until_ready(base)
        tasks_before = await task_count(base)
        process = psutil.Process(pid)
        async with session(base) as client:
            server = Server(client, process)
            result = await run_soak(server, calls=CALLS, in_flight=IN_FLIGHT)
            usage = await client.call_tool("get_usage", {})
        # Usage is recorded after each answer, in batches: under load none may be lost.
        assert usage.structured_content is not None
        assert usage.structured_content["total"]["calls"] == CALLS + IN_FLIGHT
        assert result.failures == []
        assert result.successes == CALLS
        assert len(fake.requests_to("/api/generate")) == CALLS + IN_FLIGHT
        # Measured against a warm-up round at full concurrency: the pool to the daemon was at
        # its working size already, so growth beyond the slack that never goes away is a leak.
        # Sockets close asynchronously after the last answer (slower on a loaded machine): wait.
        await poll(lambda: server.fds() <= result.fds_before + FD_SLACK, timeout=20)
        await poll(lambda: server.connections() <= result.connections_before + FD_SLACK, timeout=20)
        # Every stream to the daemon was closed, and every session task ended once the client
        # left (the session's DELETE and the connection teardown are asynchronous: poll).
        await poll(lambda: fake.active_requests == 0)
        with anyio.fail_after(20):
            while (tasks_after := await task_count(base)) > tasks_before:
                await anyio.sleep(0.05)
        assert tasks_after <= tasks_before
