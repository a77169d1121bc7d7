"""Auto-starting `ollama serve` (the fake one, first on a temporary PATH), and stopping it."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import psutil
import pytest

from mcp_ollama.errors import OllamaStartupError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.lifecycle import DaemonManager
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeServerHandle

pytestmark = pytest.mark.anyio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cold_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a local daemon that is not running: nothing listens on the port."""
    values: dict[str, object] = {
        "host": f"127.0.0.1:{free_port()}",
        "data_dir": tmp_path / "data",
        "auto_start": True,
        "stop_daemon_on_exit": True,
        "startup_timeout": 20,
        "retry_backoff": 0.01,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def manager_for(settings: Settings) -> AsyncIterator[DaemonManager]:
    """A manager whose daemon, if it started one, is always stopped and reaped afterwards."""
    async with OllamaClient.from_settings(settings) as client:
        manager = DaemonManager(settings, client)
        try:
            yield manager
        finally:
            pid = manager.pid
            await manager.stop()
            if pid is not None and psutil.pid_exists(pid):  # left running on purpose
                with contextlib.suppress(psutil.NoSuchProcess):
                    process = psutil.Process(pid)
                    process.kill()
                    process.wait(timeout=10)


async def test_auto_start_from_cold_starts_ollama_serve_with_its_log_in_the_data_dir(
    tmp_path: Path, fake_cli: FakeCLI
) -> None:
    settings = cold_settings(tmp_path)
    async with manager_for(settings) as manager:
        assert await manager.probe() is None

        assert await manager.recover() is True

        version = await manager.probe()
        assert version is not None
        assert version.version == "0.12.3"
        assert manager.started_by_us
        log = settings.data_dir / "logs" / "ollama-serve.log"
        text = log.read_text(encoding="utf-8")
        # The child was told to listen exactly where we connect.
        port = settings.base_url.rsplit(":", 1)[1]
        assert f"Listening on 127.0.0.1:{port}" in text
        assert (settings.data_dir / "logs" / "ollama-serve.pid").read_text().strip() == str(
            manager.pid
        )
        assert fake_cli.commands() == ["serve"]
        if sys.platform == "linux":
            # Detached: its own session, stdin from /dev/null, output into the log file (never
            # a pipe that somebody would have to keep reading).
            assert os.getsid(manager.pid) == manager.pid
            assert os.readlink(f"/proc/{manager.pid}/fd/0") == "/dev/null"
            assert os.readlink(f"/proc/{manager.pid}/fd/1") == str(log)


async def test_two_concurrent_callers_share_one_start(tmp_path: Path, fake_cli: FakeCLI) -> None:
    async with manager_for(cold_settings(tmp_path)) as manager:
        results: list[bool] = []

        async def caller() -> None:
            results.append(await manager.recover())

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(caller)
                tg.start_soon(caller)

        assert results == [True, True]
        assert manager.starts == 1
        assert fake_cli.commands() == ["serve"]


async def test_first_use_probe_does_not_start_a_daemon_that_already_answers(
    tmp_path: Path, fake_cli: FakeCLI, fake_ollama: FakeServerHandle
) -> None:
    settings = cold_settings(tmp_path, host=fake_ollama.url)
    async with manager_for(settings) as manager:
        await manager.ensure_running()
        await manager.ensure_running()

        assert manager.starts == 0
        assert not manager.started_by_us
        assert len(fake_ollama.fake.requests_to("/api/version")) == 1
        assert fake_cli.calls() == []


async def test_missing_binary_says_how_to_install_ollama_or_set_ollama_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    async with manager_for(cold_settings(tmp_path)) as manager:
        with pytest.raises(OllamaStartupError) as excinfo:
            await manager.recover()

    message = str(excinfo.value)
    assert "https://ollama.com/download" in message
    assert "OLLAMA_HOST" in message


async def test_a_remote_host_is_never_auto_started(tmp_path: Path, fake_cli: FakeCLI) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, never contacted here.
    settings = cold_settings(tmp_path, host="http://192.0.2.10:11434")
    async with manager_for(settings) as manager:
        assert not manager.can_start
        assert await manager.recover() is False
        await manager.ensure_running()

    assert fake_cli.calls() == []


async def test_auto_start_disabled_never_runs_the_binary(tmp_path: Path, fake_cli: FakeCLI) -> None:
    async with manager_for(cold_settings(tmp_path, auto_start=False)) as manager:
        assert await manager.recover() is False

    assert fake_cli.calls() == []


async def test_a_daemon_that_exits_at_once_is_reported_with_its_log(
    tmp_path: Path, fake_cli: FakeCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OLLAMA_MODE", "fail_serve")
    async with manager_for(cold_settings(tmp_path)) as manager:
        with pytest.raises(OllamaStartupError) as excinfo:
            await manager.recover()

    message = str(excinfo.value)
    assert "exited with code 1" in message
    assert "permission denied" in message
    assert "ollama-serve.log" in message
    assert not (tmp_path / "data" / "logs" / "ollama-serve.pid").exists()


async def test_a_daemon_that_never_answers_is_stopped_after_the_startup_timeout(
    tmp_path: Path, fake_cli: FakeCLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OLLAMA_MODE", "never_ready")
    async with manager_for(cold_settings(tmp_path, startup_timeout=1.5)) as manager:
        with pytest.raises(OllamaStartupError) as excinfo:
            await manager.recover()
        assert not manager.started_by_us

    assert "did not answer" in str(excinfo.value)
    assert "MCP_OLLAMA_STARTUP_TIMEOUT" in str(excinfo.value)
    serving = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(fake_cli.path) in (p.info["cmdline"] or [])
    ]
    assert serving == []


async def test_stop_stops_only_a_daemon_we_started_and_only_when_asked(
    tmp_path: Path, fake_cli: FakeCLI
) -> None:
    settings = cold_settings(tmp_path, stop_daemon_on_exit=False)
    async with manager_for(settings) as manager:
        await manager.recover()
        pid = manager.pid
        assert pid is not None

        await manager.stop()

        assert psutil.pid_exists(pid)
        assert await manager.probe() is not None
        process = psutil.Process(pid)
        process.terminate()
        process.wait(timeout=10)

    asked = cold_settings(tmp_path)
    async with manager_for(asked) as manager:
        await manager.recover()
        pid = manager.pid
        assert pid is not None

        await manager.stop()

        assert not manager.started_by_us
        assert await manager.probe() is None
        assert not (asked.data_dir / "logs" / "ollama-serve.pid").exists()
