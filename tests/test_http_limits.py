"""Hostile HTTP peers on loopback that try to hold the server: idle sockets, slow headers,
hundreds of connections under a low file-descriptor limit, thousands of sessions never closed.
Each is closed or turned away, the idle longest first, and a new client still gets in."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
import pytest
from anyio.abc import ByteStream
from mcp import Client
from mcp.client.sse import sse_client

from mcp_ollama.server.http_limits import ConnectionLimits
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.http_helpers import INITIALIZE, MCP_HEADERS, serving
from tests.mcp_helpers import free_port, ok, poll

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parent.parent
SLOW_HEADERS = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class Sockets:
    """Raw connections to the server, each watched for the server closing it."""

    def __init__(self, port: int, stack: AsyncExitStack, tg: Any) -> None:
        self._port = port
        self._stack = stack
        self._tg = tg
        self.opened: list[ByteStream] = []
        self.closed: set[int] = set()

    async def open(self, count: int, first_bytes: bytes = b"") -> None:
        for _ in range(count):
            stream = await anyio.connect_tcp("127.0.0.1", self._port)
            await self._stack.enter_async_context(stream)
            if first_bytes:
                await stream.send(first_bytes)
            self._tg.start_soon(self._watch, len(self.opened), stream)
            self.opened.append(stream)

    async def _watch(self, number: int, stream: ByteStream) -> None:
        try:
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        self.closed.add(number)


@asynccontextmanager
async def raw_sockets(port: int) -> AsyncIterator[Sockets]:
    async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
        sockets = Sockets(port, stack, tg)
        try:
            yield sockets
        finally:
            tg.cancel_scope.cancel()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


async def test_idle_and_slow_header_connections_are_closed_but_a_request_being_served_is_not(
    settings: Settings, fake: FakeOllama
) -> None:
    fake.generation_gate = threading.Event()
    limits = ConnectionLimits(limit=64, header_timeout=0.5)
    async with (
        serving(settings, connections=limits) as base,
        raw_sockets(port_of(base)) as sockets,
        Client(f"{base}/mcp") as client,
    ):
        await sockets.open(5)  # connect, then say nothing
        await sockets.open(5, SLOW_HEADERS)  # headers that never end
        answers = []
        async with anyio.create_task_group() as tg:

            async def generate() -> None:
                arguments = {"model": "llama3.2:1b", "prompt": "take your time"}
                answers.append(await client.call_tool("generate_text", arguments))

            tg.start_soon(generate)
            await poll(lambda: fake.requests_to("/api/generate"))
            await poll(lambda: len(sockets.closed) == 10)  # while the call is being served
            fake.generation_gate.set()
    assert ok(answers[0])["text"]


async def test_at_the_connection_limit_the_connection_idle_longest_makes_room(
    settings: Settings,
) -> None:
    limits = ConnectionLimits(limit=8, header_timeout=60)
    async with (
        serving(settings, connections=limits) as base,
        raw_sockets(port_of(base)) as sockets,
    ):
        await sockets.open(8)
        async with Client(f"{base}/mcp") as client:
            ok(await client.call_tool("list_local_models", {}))
        await poll(lambda: sockets.closed)
        assert sockets.closed == set(range(len(sockets.closed)))  # the oldest went first
        assert len(sockets.closed) < 8
        assert limits.open_connections <= 8


async def test_under_a_256_descriptor_limit_300_idle_sockets_do_not_lock_clients_out(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    port = free_port()
    start = (
        "import os, resource, sys; "
        "nofile = resource.RLIMIT_NOFILE; "
        "resource.setrlimit(nofile, (256, resource.getrlimit(nofile)[1])); "
        "os.execv(sys.executable, [sys.executable, '-m', 'mcp_ollama', '--transport', 'http', "
        f"'--port', '{port}'])"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO_ROOT),
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_AUTO_START": "false",
    }
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog:
        process = await anyio.open_process(
            [sys.executable, "-c", start], env=env, stdout=errlog, stderr=errlog
        )
    async with process:
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx2.AsyncClient() as http:

                async def healthy() -> bool:
                    try:
                        return (await http.get(f"{base}/health")).status_code == 200
                    except httpx2.TransportError:
                        return False

                with anyio.fail_after(30):
                    while not await healthy():
                        await anyio.sleep(0.05)
            async with raw_sockets(port) as sockets:
                await sockets.open(280)
                await sockets.open(20, SLOW_HEADERS)
                with anyio.fail_after(20):
                    async with Client(f"{base}/mcp") as client:
                        ok(await client.call_tool("list_local_models", {}))
                assert psutil.Process(process.pid).num_fds() < 256
        finally:
            process.terminate()
            await process.wait()
    log = (tmp_path / "stderr.log").read_text(encoding="utf-8")
    assert "Too many open files" not in log
    assert "connection limit reached" in log


async def open_session(http: httpx2.AsyncClient, base: str) -> str:
    answer = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


async def session_answers(http: httpx2.AsyncClient, base: str, session_id: str) -> int:
    headers = {
        **MCP_HEADERS,
        "mcp-session-id": session_id,
        "mcp-protocol-version": "2025-11-25",
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    return (await http.post(f"{base}/mcp", json=ping, headers=headers)).status_code


async def test_abandoned_sessions_make_room_oldest_idle_first_and_a_busy_one_is_kept(
    settings: Settings, fake: FakeOllama
) -> None:
    few = settings.model_copy(update={"max_http_sessions": 5})
    fake.generation_gate = threading.Event()
    async with (
        serving(few) as base,
        httpx2.AsyncClient(timeout=30) as http,
        Client(f"{base}/mcp", mode="legacy") as busy,
    ):
        answers = []
        async with anyio.create_task_group() as tg:

            async def generate() -> None:
                arguments = {"model": "llama3.2:1b", "prompt": "take your time"}
                answers.append(await busy.call_tool("generate_text", arguments))

            tg.start_soon(generate)
            await poll(lambda: fake.requests_to("/api/generate"))
            abandoned = [await open_session(http, base) for _ in range(40)]
            fake.generation_gate.set()
        assert ok(answers[0])["text"]  # its session was busy, so it was kept
        statuses = [await session_answers(http, base, sid) for sid in abandoned]
        async with Client(f"{base}/mcp", mode="legacy") as newcomer:
            ok(await newcomer.call_tool("list_local_models", {}))
    assert statuses == [404] * 36 + [200] * 4  # 5 kept: the busy one and the 4 newest


async def test_abandoned_sse_streams_make_room_oldest_idle_first(settings: Settings) -> None:
    few = settings.model_copy(update={"transport": "sse", "max_http_sessions": 3})
    async with (
        serving(few) as base,
        httpx2.AsyncClient(timeout=30) as http,
        anyio.create_task_group() as tg,
    ):
        started: set[int] = set()
        ended: set[int] = set()

        async def hold(number: int) -> None:
            async with http.stream("GET", f"{base}/sse") as stream:
                async for _ in stream.aiter_bytes():
                    started.add(number)  # the endpoint event: the stream is open
            ended.add(number)

        for number in range(5):
            tg.start_soon(hold, number)
            await poll(lambda n=number: n in started)  # type: ignore[misc]
        await poll(lambda: ended == {0, 1})
        async with Client(sse_client(f"{base}/sse")) as client:  # type: ignore[arg-type]
            ok(await client.call_tool("list_local_models", {}))
            await poll(lambda: ended == {0, 1, 2})
        tg.cancel_scope.cancel()
