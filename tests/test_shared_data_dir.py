"""Several server processes on one data directory, as when two IDEs start the server with the
default one: turns into one session from every process and client see every turn stored before
them, benchmarks never share the daemon, a database one process moves aside is never written
by another, and a server killed mid-turn blocks nobody."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from structlog.testing import capture_logs

from mcp_ollama.conversations import database as database_module
from mcp_ollama.conversations.database import DATABASE_NAME
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.http_helpers import serving
from tests.mcp_helpers import error_text, ok, poll

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
SESSION = "shared"
REPO_ROOT = Path(__file__).resolve().parent.parent


def stdio_params(fake_ollama: FakeServerHandle, data_dir: Path, tmp_path: Path) -> Any:
    """A server subprocess over stdio on `data_dir`."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_ollama"],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO_ROOT),
            "OLLAMA_HOST": fake_ollama.ollama_host,
            "MCP_OLLAMA_DATA_DIR": str(data_dir),
            "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
            "MCP_OLLAMA_AUTO_START": "false",
            "MCP_OLLAMA_CLI_FALLBACK": "false",
            "MCP_OLLAMA_TOOLS": "all",
        },
    )


@asynccontextmanager
async def stdio_servers(
    count: int, fake_ollama: FakeServerHandle, data_dir: Path, tmp_path: Path, name: str = "server"
) -> AsyncIterator[list[Client]]:
    """`count` server subprocesses on one data directory, each with a client; their stderr goes
    to `<name>-<number>.log`."""
    params = stdio_params(fake_ollama, data_dir, tmp_path)
    async with AsyncExitStack() as stack:
        clients = []
        for number in range(count):
            errlog = stack.enter_context(
                (tmp_path / f"{name}-{number}.log").open("w", encoding="utf-8")
            )
            client = Client(stdio_client(params, errlog=errlog))
            clients.append(await stack.enter_async_context(client))
        yield clients


@asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[Client]:
    """A server in this test's process (to the subprocesses, another process) and a client."""
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


def chat(content: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "session_id": SESSION,
    }


async def test_two_stdio_servers_and_two_sse_clients_take_turns_in_one_session(
    fake_ollama: FakeServerHandle, fake: FakeOllama, settings: Settings, tmp_path: Path
) -> None:
    fake.ttft = 0.01  # long enough for turns to overlap, were they not serialised
    sse = settings.model_copy(update={"transport": "sse"})
    turns_each = 10
    async with (
        serving(sse) as base,
        stdio_servers(2, fake_ollama, settings.data_dir, tmp_path) as stdio,
        Client(sse_client(f"{base}/sse")) as first_sse,  # type: ignore[arg-type]
        Client(sse_client(f"{base}/sse")) as second_sse,  # type: ignore[arg-type]
    ):
        clients = [*stdio, first_sse, second_sse]

        async def take_turns(number: int, client: Client) -> None:
            for turn in range(turns_each):
                ok(await client.call_tool("chat", chat(f"client {number} turn {turn}")))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for number, client in enumerate(clients):
                    tg.start_soon(take_turns, number, client)

    # A restart shows all 40 turns, and each was answered with every turn stored before it.
    async with in_process(settings) as restarted:
        stored = ok(await restarted.call_tool("get_session", {"session_id": SESSION}))
    contents = [m["content"] for m in stored["messages"]]
    assert len(contents) == 2 * turns_each * len(clients)
    asked = {
        request.body["messages"][-1]["content"]: [m["content"] for m in request.body["messages"]]
        for request in fake.requests_to("/api/chat")
    }
    for position in range(0, len(contents), 2):
        assert asked[contents[position]] == contents[: position + 1], contents[position]


async def test_benchmarks_from_two_servers_on_one_data_directory_never_share_the_daemon(
    fake_ollama: FakeServerHandle, fake: FakeOllama, settings: Settings, tmp_path: Path
) -> None:
    fake.ttft = 0.02
    plan = {"prompts": ["One", "Two"], "runs": 2, "warmup": 0, "save_report": False}
    async with (
        stdio_servers(1, fake_ollama, settings.data_dir, tmp_path) as (first,),
        in_process(settings) as second,
    ):
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for client, model in ((first, MODEL), (second, "qwen3:0.6b")):
                    arguments = {"model": model, **plan}
                    tg.start_soon(client.call_tool, "benchmark_model", arguments)
    models = [request.body["model"] for request in fake.requests_to("/api/generate")]
    assert len(models) == 8
    assert models in ([MODEL] * 4 + ["qwen3:0.6b"] * 4, ["qwen3:0.6b"] * 4 + [MODEL] * 4)


async def test_a_server_whose_database_another_moved_aside_never_writes_into_it(
    fake_ollama: FakeServerHandle, settings: Settings, tmp_path: Path
) -> None:
    database = settings.data_dir / DATABASE_NAME
    reported_stored: list[str] = []
    async with in_process(settings) as first:
        ok(await first.call_tool("chat", chat("before")))
    async with stdio_servers(1, fake_ollama, settings.data_dir, tmp_path) as (other,):
        ok(await other.call_tool("get_session", {"session_id": SESSION}))  # `other` has it open
        database.write_bytes(b"\xde\xad\xbe\xef" * 1024)  # then it goes bad
        async with in_process(settings) as finder:  # another process, as `other` sees it
            found = error_text(await finder.call_tool("get_session", {"session_id": SESSION}))
        assert "moved aside" in found
        for turn in range(3):
            answer = await other.call_tool("chat", chat(f"after {turn}"))
            if answer.is_error:
                text = error_text(answer)
                assert "moved aside" in text
                assert "delete" not in text  # the new database is healthy: never advise that
            else:
                reported_stored.append(f"after {turn}")
        assert reported_stored  # `other` carries on with the fresh database
    moved = list(settings.data_dir.glob(f"{DATABASE_NAME}.corrupt-*"))
    assert len([p for p in moved if not p.name.endswith(("-wal", "-shm"))]) == 1
    async with in_process(settings) as restarted:
        stored = ok(await restarted.call_tool("get_session", {"session_id": SESSION}))
    users = [m["content"] for m in stored["messages"] if m["role"] == "user"]
    assert users == reported_stored  # every turn reported stored is in the live database


async def test_a_server_killed_mid_turn_does_not_block_the_session_for_the_others(
    fake_ollama: FakeServerHandle, fake: FakeOllama, settings: Settings, tmp_path: Path
) -> None:
    params = stdio_params(fake_ollama, settings.data_dir, tmp_path)
    fake.generation_gate = threading.Event()  # the first turn hangs before its first token
    async with in_process(settings) as survivor:
        with (tmp_path / "victim.log").open("w", encoding="utf-8") as errlog:
            process = await anyio.open_process(
                [params.command, *params.args], env=params.env, stderr=errlog
            )
            async with process:
                victim = _RawStdio(process)
                await victim.initialize()
                await victim.call_tool_no_wait(chat("the victim's turn"))
                await poll(lambda: len(fake.requests_to("/api/chat")) == 1)
                process.send_signal(signal.SIGKILL)  # mid-turn, holding the session
                await process.wait()
        fake.generation_gate.set()
        with anyio.fail_after(20):
            ok(await survivor.call_tool("chat", chat("the survivor's turn")))
    with sqlite3.connect(settings.data_dir / DATABASE_NAME) as connection:
        rows = connection.execute("SELECT data FROM messages ORDER BY seq").fetchall()
    assert len(rows) == 2
    assert "the survivor's turn" in rows[0][0]


class _RawStdio:
    """Just enough JSON-RPC to start a call on a server that will never answer it."""

    def __init__(self, process: Any) -> None:
        self.process = process

    async def _send(self, message: dict[str, Any]) -> None:
        await self.process.stdin.send(json.dumps(message).encode() + b"\n")

    async def initialize(self) -> None:
        params = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "victim", "version": "0"},
        }
        await self._send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        await BufferedByteReceiveStream(self.process.stdout).receive_until(b"\n", 1_000_000)
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call_tool_no_wait(self, arguments: dict[str, Any]) -> None:
        params = {"name": "chat", "arguments": arguments}
        await self._send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params})


async def test_a_turn_outlasts_another_program_holding_the_write_lock_and_keeps_its_answer(
    fake: FakeOllama, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 100)  # SQLite gives up sooner
    async with in_process(settings) as client:
        ok(await client.call_tool("chat", chat("first")))
        fake.generation_gate = threading.Event()
        answers = []
        with capture_logs() as logs:
            async with anyio.create_task_group() as tg:

                async def second_turn() -> None:
                    answers.append(await client.call_tool("chat", chat("second")))

                tg.start_soon(second_turn)
                await poll(lambda: len(fake.requests_to("/api/chat")) == 2)
                other_program = sqlite3.connect(
                    settings.data_dir / DATABASE_NAME, isolation_level=None
                )
                other_program.execute("BEGIN IMMEDIATE")  # holds the write lock
                fake.generation_gate.set()
                await poll(lambda: any("trying again" in entry["event"] for entry in logs))
                other_program.execute("COMMIT")
                other_program.close()
        usage = ok(await client.call_tool("get_usage", {}))
        stored = ok(await client.call_tool("get_session", {"session_id": SESSION}))
    assert ok(answers[0])["session_id"] == SESSION
    assert [m["content"] for m in stored["messages"] if m["role"] == "user"] == ["first", "second"]
    assert usage["total"]["calls"] == 2  # no usage record was lost either
