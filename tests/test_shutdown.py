"""Graceful shutdown of a real `python -m mcp_ollama` process: SIGTERM, SIGINT or stdin closing
with a generation in flight ends it with exit code 0 at once, the call answers (or is dropped
with the connection), the daemon sees its stream closed, the database is closed cleanly, and an
auto-started daemon is stopped or left as configured."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.client.sse import sse_client

from mcp_ollama.conversations.database import DATABASE_NAME
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import free_port, poll

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL = "llama3.2:1b"
EXIT_BOUND = 5.0
"""Seconds a stopping server may take to exit (it needs a fraction of one)."""
SHUTTING_DOWN = "the server is shutting down"


def server_env(tmp_path: Path, ollama_host: str, **extra: str) -> dict[str, str]:
    """A server subprocess's whole environment: nothing leaks in from the test run."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO_ROOT),
        "OLLAMA_HOST": ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_AUTO_START": "false",
        "MCP_OLLAMA_CLI_FALLBACK": "false",
        "MCP_OLLAMA_TOOLS": "all",
        **extra,
    }


class StdioSession:
    """Raw JSON-RPC over a server subprocess's stdin and stdout."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._next_id = 1

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any]) -> int:
        """Send a request without waiting for its answer; returns its id."""
        self._next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return self._next_id

    async def response(self, request_id: int) -> dict[str, Any]:
        """Read messages until the one answering `request_id`."""
        while True:
            message = json.loads(await self._stdout.receive_until(b"\n", 50_000_000))
            if message.get("id") == request_id:
                return dict(message)

    async def initialize(self) -> None:
        params = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "shutdown-test", "version": "0"},
        }
        await self.response(await self.request("initialize", params))
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        request_id = await self.request("tools/call", {"name": name, "arguments": arguments})
        result: dict[str, Any] = (await self.response(request_id))["result"]
        return result


@asynccontextmanager
async def stdio_server(env: dict[str, str], stderr: Path) -> AsyncIterator[StdioSession]:
    """A server subprocess over stdio, initialised; killed if a test leaves it running."""
    with stderr.open("w", encoding="utf-8") as errlog:
        process = await anyio.open_process(
            [sys.executable, "-m", "mcp_ollama"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=env,
        )
        async with process:
            try:
                session = StdioSession(process)
                with anyio.fail_after(30):
                    await session.initialize()
                yield session
            finally:
                if process.returncode is None:
                    process.kill()


async def exit_code_after(process: Process, stop: str) -> int:
    """Stop the process the way `stop` names, then wait for it, bounded."""
    if stop == "stdin closed":
        assert process.stdin is not None
        await process.stdin.aclose()
    else:
        process.send_signal(getattr(signal, stop))
    with anyio.fail_after(EXIT_BOUND):
        return await process.wait()


def hold_generations(fake: FakeOllama) -> None:
    """From now on generations hang before their first token, until the test ends."""
    fake.generation_gate = threading.Event()


async def until_generating(fake: FakeOllama, count: int) -> None:
    await poll(lambda: len(fake.requests_to("/api/generate")) >= count)


def usage_rows(data_dir: Path) -> dict[str, tuple[int, int]]:
    """(calls, errors) per model, read straight from the database file."""
    with sqlite3.connect(data_dir / DATABASE_NAME) as connection:
        rows = connection.execute("SELECT model, calls, errors FROM usage").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_a_stdio_server_whose_client_closes_its_stdout_exits_quietly(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.log"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "shutdown-test", "version": "0"},
        },
    }
    with stderr.open("w", encoding="utf-8") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcp_ollama"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=server_env(tmp_path, fake_ollama.ollama_host),
        )
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(json.dumps(initialize).encode() + b"\n")
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["id"] == 1
            process.stdout.close()  # the client is gone; stdin stays open, as after a crash
            process.stdin.write(b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}\n')
            process.stdin.flush()
            code = process.wait(EXIT_BOUND)
        finally:
            if process.poll() is None:
                process.kill()
            process.stdin.close()
    assert code == 0
    assert "Traceback" not in stderr.read_text("utf-8")


@pytest.mark.parametrize("stop", ["SIGTERM", "stdin closed"])  # SIGINT: over HTTP, below
async def test_a_stdio_server_stops_cleanly_with_a_generation_in_flight(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path, stop: str
) -> None:
    data_dir = tmp_path / "data"
    stderr = tmp_path / "stderr.log"
    env = server_env(tmp_path, fake_ollama.ollama_host)
    async with stdio_server(env, stderr) as session:
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "session_id": "s1"}
        assert not (await session.call_tool("chat", chat))["isError"]
        assert (data_dir / f"{DATABASE_NAME}-wal").exists()  # the database is open

        hold_generations(fake)
        in_flight = await session.request(
            "tools/call", {"name": "generate_text", "arguments": {"model": MODEL, "prompt": "go"}}
        )
        await until_generating(fake, 1)
        assert await exit_code_after(session.process, stop) == 0
        if stop != "stdin closed":  # the client is still listening: the call gets its answer
            answer = await session.response(in_flight)
            assert answer["result"]["isError"]
            assert SHUTTING_DOWN in answer["result"]["content"][0]["text"]

    await poll(lambda: "/api/generate" in fake.disconnect_paths)
    # Closed cleanly: SQLite folds the WAL back into the database and deletes it on close.
    assert not (data_dir / f"{DATABASE_NAME}-wal").exists()
    # The stored session survived, and the cancelled call was counted as an error.
    assert usage_rows(data_dir)["llama3.2:1b"] == (2, 1)
    with sqlite3.connect(data_dir / DATABASE_NAME) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    log = stderr.read_text(encoding="utf-8")
    assert "Traceback" not in log
    if stop != "stdin closed":
        assert f'"signal": "{stop}", "event": "stopping"' in log


async def test_sigterm_over_stdio_answers_every_call_in_flight(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    env = server_env(tmp_path, fake_ollama.ollama_host)
    async with stdio_server(env, tmp_path / "stderr.log") as session:
        hold_generations(fake)
        arguments = {"model": MODEL, "prompt": "go"}
        in_flight = [
            await session.request("tools/call", {"name": "generate_text", "arguments": arguments})
            for _ in range(10)
        ]
        await until_generating(fake, 10)
        assert await exit_code_after(session.process, "SIGTERM") == 0
        with anyio.fail_after(EXIT_BOUND):
            answers = [await session.response(request_id) for request_id in in_flight]
    assert all(answer["result"]["isError"] for answer in answers)
    assert all(SHUTTING_DOWN in answer["result"]["content"][0]["text"] for answer in answers)


@asynccontextmanager
async def http_server(
    env: dict[str, str], stderr: Path, transport: str, port: int
) -> AsyncIterator[Process]:
    """A server subprocess over an HTTP transport, answering /health; killed if left running."""
    argv = [sys.executable, "-m", "mcp_ollama", "--transport", transport, "--port", str(port)]
    with stderr.open("w", encoding="utf-8") as errlog:
        process = await anyio.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog, env=env
        )
        async with process:
            try:
                async with httpx2.AsyncClient() as http:
                    with anyio.fail_after(30):
                        while True:
                            try:
                                await http.get(f"http://127.0.0.1:{port}/health")
                                break
                            except httpx2.TransportError:
                                assert process.returncode is None, stderr.read_text("utf-8")
                                await anyio.sleep(0.05)
                yield process
            finally:
                if process.returncode is None:
                    process.kill()


@pytest.mark.parametrize(
    ("transport", "mode", "stop"),
    [("http", "auto", "SIGTERM"), ("http", "legacy", "SIGINT"), ("sse", "legacy", "SIGTERM")],
)
async def test_an_http_server_answers_the_call_in_flight_then_exits_with_code_0(
    fake_ollama: FakeServerHandle,
    fake: FakeOllama,
    tmp_path: Path,
    transport: str,
    mode: str,
    stop: str,
) -> None:
    """Legacy streamable HTTP and SSE also hold an event stream open, which only a cut ends."""
    port = free_port()
    stderr = tmp_path / "stderr.log"
    env = server_env(tmp_path, fake_ollama.ollama_host)
    base = f"http://127.0.0.1:{port}"
    target: Any = f"{base}/mcp" if transport == "http" else sse_client(f"{base}/sse")
    results: list[Any] = []
    async with (
        http_server(env, stderr, transport, port) as process,
        Client(target, mode=mode) as client,
    ):
        hold_generations(fake)
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                arguments = {"model": MODEL, "prompt": "go on"}
                results.append(await client.call_tool("generate_text", arguments))

            tg.start_soon(call)
            await until_generating(fake, 1)
            assert await exit_code_after(process, stop) == 0

    assert results[0].is_error
    assert SHUTTING_DOWN in results[0].content[0].text
    await poll(lambda: "/api/generate" in fake.disconnect_paths)
    log = stderr.read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert "Application shutdown complete" in log


@pytest.mark.parametrize("stop_daemon_on_exit", [True, False])
async def test_sigterm_stops_an_auto_started_daemon_only_when_configured(
    fake_cli: FakeCLI, tmp_path: Path, stop_daemon_on_exit: bool
) -> None:
    data_dir = tmp_path / "data"
    env = server_env(
        tmp_path,
        f"127.0.0.1:{free_port()}",
        PATH=f"{fake_cli.bin_dir}{os.pathsep}{os.environ['PATH']}",
        MCP_OLLAMA_AUTO_START="true",
        MCP_OLLAMA_STOP_DAEMON_ON_EXIT=str(stop_daemon_on_exit).lower(),
        FAKE_OLLAMA_CLI_LOG=str(fake_cli.log),
    )
    daemon: psutil.Process | None = None
    try:
        async with stdio_server(env, tmp_path / "stderr.log") as session:
            listed = await session.call_tool("list_local_models", {})
            assert not listed["isError"], listed
            pid = int((data_dir / "logs" / "ollama-serve.pid").read_text(encoding="utf-8"))
            daemon = psutil.Process(pid)
            assert await exit_code_after(session.process, "SIGTERM") == 0

        assert fake_cli.commands() == ["serve"]
        if stop_daemon_on_exit:
            assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
            assert not (data_dir / "logs" / "ollama-serve.pid").exists()
        else:
            assert daemon.is_running()
            assert daemon.status() != psutil.STATUS_ZOMBIE
    finally:
        if daemon is not None and daemon.is_running():
            daemon.kill()
