"""Resilience when the daemon or the model is not there yet, end to end: auto-pull, auto-start
through the service and over stdio, and a dead proxy in the environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import psutil
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import free_port
from tests.resilience_helpers import make_settings, service_for

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parent.parent
DEAD_PROXY = "http://127.0.0.1:9"


# -- auto-pull --------------------------------------------------------------------------------


async def test_auto_pull_pulls_a_missing_model_first_with_growing_progress(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.pull_step_delay = 0.05
    progress: list[float] = []
    messages: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)
        messages.append(message)

    settings = make_settings(fake_ollama.url, tmp_path, auto_pull=True, cli_fallback=False)
    async with service_for(settings) as service:
        result = await service.generation.generate("tinyllama", "hi", on_progress=on_progress)

    assert result.text
    assert [r.path for r in fake.requests if r.path in ("/api/pull", "/api/generate")] == [
        "/api/generate",
        "/api/pull",
        "/api/generate",
    ]
    assert progress == sorted(progress)
    assert "success" in messages
    assert messages[-1] != "success"  # generation progress follows the pull's


# -- auto-start through the service -----------------------------------------------------------


async def test_concurrent_calls_against_a_cold_daemon_start_it_once(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, auto_start=True)
    async with service_for(settings) as service:
        results: list[str] = []

        async def list_models() -> None:
            results.append((await service.models.list_models()).served_by)

        async def generate() -> None:
            results.append((await service.generation.generate("llama3.2:1b", "hi")).served_by)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(list_models)
                tg.start_soon(generate)

        assert sorted(results) == ["http", "http"]
        assert fake_cli.commands() == ["serve"]
        assert (settings.data_dir / "logs" / "ollama-serve.log").exists()


# -- proxies ----------------------------------------------------------------------------------


async def test_a_dead_proxy_in_the_environment_does_not_break_a_local_daemon(
    fake_ollama: FakeServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    settings = make_settings(fake_ollama.url, tmp_path, cli_fallback=False)
    async with service_for(settings) as service:
        result = await service.generation.generate("llama3.2:1b", "hi")

    assert result.served_by == "http"
    assert result.text


# -- the "done when" run over stdio -----------------------------------------------------------


async def test_over_stdio_the_first_call_auto_starts_the_daemon_and_a_dead_proxy_is_ignored(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {
        "PATH": f"{fake_cli.bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "MCP_OLLAMA_DATA_DIR": str(data_dir),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_STOP_DAEMON_ON_EXIT": "true",
        "MCP_OLLAMA_LOG_LEVEL": "WARNING",
        "FAKE_OLLAMA_CLI_LOG": str(fake_cli.log),
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
        "ALL_PROXY": DEAD_PROXY,
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_ollama"], env=env)
    pid_file = data_dir / "logs" / "ollama-serve.pid"
    pid: int | None = None
    try:
        with anyio.fail_after(60):
            async with Client(params) as mcp:
                listed = await mcp.call_tool("list_local_models", {})
                assert not listed.is_error, listed.content
                assert (data_dir / "logs" / "ollama-serve.log").exists()
                pid = int(pid_file.read_text(encoding="utf-8"))

                generated = await mcp.call_tool(
                    "generate_text", {"model": "llama3.2:1b", "prompt": "hi"}
                )
                assert not generated.is_error, generated.content
                assert generated.structured_content is not None
                assert generated.structured_content["served_by"] == "http"

        assert listed.structured_content is not None
        names = [m["name"] for m in listed.structured_content["models"]]
        assert "llama3.2:1b" in names
        assert fake_cli.commands() == ["serve"]
        # stop_daemon_on_exit: the server stopped the daemon it started.
        with anyio.fail_after(20):
            while psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
                await anyio.sleep(0.05)
    finally:
        if pid is not None and psutil.pid_exists(pid):
            process = psutil.Process(pid)
            process.kill()
