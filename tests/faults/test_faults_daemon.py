"""The fault matrix, the daemon's faults, through a real MCP client: down at start, dying
mid-stream, answering 500, stalling, sending a malformed line, and no `ollama` binary at all.

Each case checks the call that meets the fault, the call after it, and the saved data (see
__init__.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.fake_ollama_cli import install_fake_ollama_cli
from tests.faults.helpers import (
    GENERATE,
    MODEL,
    REPO_ROOT,
    SESSION,
    Saved,
    connect,
    save_everything,
    temp_files,
)
from tests.mcp_helpers import error_text, free_port, ok, poll

pytestmark = pytest.mark.anyio


async def test_a_daemon_down_at_start_says_how_to_start_it_and_works_once_it_is_up(
    fake: FakeOllama, tmp_path: Path
) -> None:
    port = free_port()
    daemon = FakeServerHandle(fake, port=port)
    settings = Settings(
        host=f"127.0.0.1:{port}",
        data_dir=tmp_path / "data",
        auto_start=False,
        cli_fallback=False,
        retry_backoff=0.01,
    )
    daemon.start()
    try:
        async with connect(settings) as client:
            saved = await save_everything(client, settings.data_dir)
        daemon.stop()

        async with connect(settings) as client:  # the server starts with the daemon down
            text = error_text(await client.call_tool("generate_text", GENERATE))
            assert "cannot connect to Ollama" in text
            assert "Start it with `ollama serve`" in text
            # The installed models it saw last time it still lists, from the cache.
            listed = ok(await client.call_tool("list_local_models", {}))
            assert [m["name"] for m in listed["models"]] == [m.name for m in fake.models]

            daemon.start()
            assert ok(await client.call_tool("generate_text", GENERATE))["text"]
            await saved.assert_intact(client)
    finally:
        daemon.stop()


async def test_a_daemon_dying_mid_stream_over_stdio_interrupts_the_call_and_the_next_one_works(
    fake: FakeOllama, tmp_path: Path
) -> None:
    port = free_port()
    fake.tokens_per_second = 50
    fake.response_tokens = 10_000
    data_dir = tmp_path / "data"
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO_ROOT),
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "MCP_OLLAMA_DATA_DIR": str(data_dir),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_AUTO_START": "false",
        "MCP_OLLAMA_CLI_FALLBACK": "false",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_ollama"], env=env)
    daemon = FakeServerHandle(fake, port=port)
    daemon.start()
    streaming = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        streaming.set()

    try:
        with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                fake.response_tokens = 5
                saved_output = ok(
                    await client.call_tool("generate_text", {**GENERATE, "save_output": True})
                )["saved_output"]
                fake.response_tokens = 10_000
                result: list[Any] = []
                async with anyio.create_task_group() as tg:

                    async def generate() -> None:
                        arguments = {"model": MODEL, "prompt": "A long story"}
                        result.append(
                            await client.call_tool(
                                "generate_text", arguments, progress_callback=on_progress
                            )
                        )

                    tg.start_soon(generate)
                    await streaming.wait()
                    daemon.stop()  # the daemon dies with the stream half-sent

                text = error_text(result[0])
                assert "interrupted after" in text
                assert "Call the tool again to retry" in text

                daemon.start()
                fake.response_tokens = 5
                assert ok(await client.call_tool("generate_text", GENERATE))["text"]
    finally:
        daemon.stop()
    saved_files = sorted(p.name for p in (data_dir / "outputs").iterdir())
    assert saved_files == [f"{saved_output}.json", f"{saved_output}.md"]
    assert json.loads((data_dir / "outputs" / f"{saved_output}.json").read_text())["id"]
    assert temp_files(data_dir) == []


async def test_a_500_says_it_is_ollamas_failure_and_the_next_call_works_once_it_is_fixed(
    settings: Settings, fake: FakeOllama, saved: Saved
) -> None:
    async with connect(settings) as client:
        fake.set_fault("http_500", paths=["/api/generate", "/api/chat"])
        text = error_text(
            await client.call_tool("generate_text", {**GENERATE, "save_output": True})
        )
        assert "HTTP 500" in text
        assert "call again" in text
        assert "Ollama server log" in text

        fake.clear_fault()
        assert ok(await client.call_tool("generate_text", GENERATE))["text"]
        await saved.assert_intact(client)


async def test_a_stalled_daemon_is_abandoned_after_the_stall_timeout_with_a_clear_error(
    settings: Settings, fake: FakeOllama, saved: Saved
) -> None:
    stalling = settings.model_copy(update={"stall_timeout": 0.5})
    async with connect(stalling) as client:
        fake.set_fault("slow", paths=["/api/generate"])
        text = error_text(await client.call_tool("generate_text", GENERATE))
        assert "sent nothing for 0.5 s" in text
        assert "MCP_OLLAMA_STALL_TIMEOUT" in text
        # The abandoned request was really closed, so the daemon stops working for nobody.
        await poll(lambda: "/api/generate" in fake.disconnect_paths)

        fake.clear_fault()
        assert ok(await client.call_tool("generate_text", GENERATE))["text"]
        await saved.assert_intact(client)


async def test_a_malformed_ndjson_line_fails_the_call_clearly_and_the_next_one_works(
    settings: Settings, fake: FakeOllama, saved: Saved
) -> None:
    async with connect(settings) as client:
        fake.set_fault("malformed_line", count=1, paths=["/api/chat"])
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "More"}]}
        text = error_text(await client.call_tool("chat", {**chat, "session_id": SESSION}))
        assert "malformed response" in text
        assert "Call the tool again to retry" in text
        # The failed turn was not stored: the session is exactly as it was.
        await saved.assert_intact(client)

        reply = ok(await client.call_tool("chat", {**chat, "session_id": SESSION}))
        session = ok(await client.call_tool("get_session", {"session_id": SESSION}))
        assert [m["content"] for m in session["messages"]] == [
            *saved.messages,
            "More",
            reply["message"]["content"],
        ]


async def test_a_missing_ollama_binary_says_how_to_install_it_and_auto_start_works_once_it_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    settings = Settings(
        host=f"127.0.0.1:{free_port()}",
        data_dir=tmp_path / "data",
        auto_start=True,
        stop_daemon_on_exit=True,
        retry_backoff=0.01,
    )
    async with connect(settings) as client:
        text = error_text(await client.call_tool("generate_text", GENERATE))
        assert "no `ollama` executable was found" in text
        assert "https://ollama.com/download" in text
        assert "MCP_OLLAMA_OLLAMA_BIN" in text

        install_fake_ollama_cli(empty)  # Ollama gets installed
        assert ok(await client.call_tool("generate_text", GENERATE))["text"]
        assert (settings.data_dir / "logs" / "ollama-serve.pid").is_file()
    # stop_daemon_on_exit: the daemon it started was stopped with the server.
    assert not (settings.data_dir / "logs" / "ollama-serve.pid").exists()
