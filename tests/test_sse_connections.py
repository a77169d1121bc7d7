"""Several SSE clients on one server share one state: the SDK opens a lifespan per SSE
connection, but the daemon a client's call started, the session locks and the benchmark lock
belong to the server, not to the connection that happened to touch them first."""

from __future__ import annotations

from pathlib import Path

import anyio
import psutil
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from tests.conftest import FakeCLI
from tests.http_helpers import serving
from tests.mcp_helpers import free_port, ok
from tests.resilience_helpers import make_settings

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"


async def test_one_sse_client_leaving_does_not_stop_the_daemon_another_is_generating_on(
    fake_cli: FakeCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon our server starts answers 12 tokens in about two seconds.
    monkeypatch.setenv("FAKE_OLLAMA_TOKENS_PER_SECOND", "6")
    settings = make_settings(
        f"127.0.0.1:{free_port()}",
        tmp_path,
        transport="sse",
        auto_start=True,
        stop_daemon_on_exit=True,
        cli_fallback=False,
    )
    streaming = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        streaming.set()

    daemon: psutil.Process | None = None
    answers = []
    try:
        async with serving(settings) as base:
            url = f"{base}/sse"
            with anyio.fail_after(30):
                async with Client(sse_client(url)) as second:  # type: ignore[arg-type]

                    async def generate() -> None:
                        arguments = {"model": MODEL, "prompt": "go on"}
                        answers.append(
                            await second.call_tool(
                                "generate_text", arguments, progress_callback=on_progress
                            )
                        )

                    # `first` leaves (the inner context) while `second` is still generating.
                    async with (
                        anyio.create_task_group() as tg,
                        Client(sse_client(url)) as first,  # type: ignore[arg-type]
                    ):
                        ok(await first.call_tool("list_local_models", {}))  # starts the daemon
                        pid_file = settings.data_dir / "logs" / "ollama-serve.pid"
                        daemon = psutil.Process(int(pid_file.read_text(encoding="utf-8")))
                        tg.start_soon(generate)
                        await streaming.wait()
                    assert ok(answers[0])["text"]
                    assert daemon.is_running()
                    ok(await second.call_tool("list_local_models", {}))
        # The server stopped: now the daemon it started goes, as configured.
        assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
        assert fake_cli.commands() == ["serve"]
    finally:
        if daemon is not None and daemon.is_running():
            daemon.kill()
