"""The fault matrix: every fault the daemon and the disk can throw, through a real MCP client.

Each case saves data first (an output, a report, a session, the model cache), injects one fault,
and checks three things: the call that meets it ends in an `isError` result that says what to
do next, the next call succeeds once the fault is gone, and every saved file is still there,
byte for byte, with no temporary file left in the data directory.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

import mcp_ollama.catalog
import mcp_ollama.storage
from mcp_ollama.database import DATABASE_NAME
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama
from tests.fake_ollama_cli import install_fake_ollama_cli
from tests.mcp_helpers import error_text, free_port, isolated_settings, ok, poll

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL = "llama3.2:1b"
SESSION = "kept-session"
GENERATE = {"model": MODEL, "prompt": "Say hi"}


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Client]:
    """A fresh server (fresh lifespan, caches and database connection) and a client for it."""
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


# -- saved data, and checking that none of it was lost ----------------------------------------


class Saved:
    """What a data directory held before a fault: every file's bytes, and the session."""

    def __init__(self, data_dir: Path, files: dict[str, bytes], messages: list[str]) -> None:
        self.data_dir = data_dir
        self.files = files
        self.messages = messages

    async def assert_intact(self, client: Client | None = None) -> None:
        """Every saved file unchanged, no temporary file, and (given a client) the session."""
        for name, content in self.files.items():
            assert (self.data_dir / name).read_bytes() == content, f"{name} changed"
        assert temp_files(self.data_dir) == []
        if client is not None:
            session = ok(await client.call_tool("get_session", {"session_id": SESSION}))
            assert [m["content"] for m in session["messages"]] == self.messages


def temp_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob(f"*{mcp_ollama.storage.TEMP_SUFFIX}"))


def snapshot(data_dir: Path) -> dict[str, bytes]:
    """Saved outputs and reports by path; the database and cache change legitimately."""
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for folder in ("outputs", "reports")
        for path in sorted((data_dir / folder).iterdir())
    }


async def save_everything(client: Client, data_dir: Path) -> Saved:
    """A saved output, a benchmark report, a stored session and the model cache."""
    ok(await client.call_tool("generate_text", {**GENERATE, "save_output": True}))
    benchmark = {"model": MODEL, "prompts": ["Count to three"], "runs": 1, "warmup": 0}
    assert ok(await client.call_tool("benchmark_model", benchmark))["report_id"]
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}
    reply = ok(await client.call_tool("chat", {**chat, "session_id": SESSION}))
    ok(await client.call_tool("list_local_models", {}))
    assert (data_dir / "cache" / "models.json").is_file()
    return Saved(data_dir, snapshot(data_dir), ["Hello", reply["message"]["content"]])


@pytest.fixture(scope="module")
def saved_template(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """A data directory in which a server saved one of everything, made once per module."""
    directory = tmp_path_factory.mktemp("faults")
    with serve_fake_ollama(FakeOllama()) as daemon:
        settings = isolated_settings(
            directory, host=daemon.url, auto_start=False, cli_fallback=False
        )

        async def save() -> Saved:
            async with connect(settings) as client:
                return await save_everything(client, settings.data_dir)

        return anyio.run(save)


@pytest.fixture
def saved(saved_template: Saved, settings: Settings) -> Saved:
    """This test's data directory: a copy of the template (the database closed cleanly)."""
    shutil.copytree(saved_template.data_dir, settings.data_dir)
    return Saved(settings.data_dir, saved_template.files, saved_template.messages)


# -- the daemon -------------------------------------------------------------------------------


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


# -- the disk ---------------------------------------------------------------------------------


@contextmanager
def read_only(tree: Path) -> Iterator[None]:
    """Make `tree` really unwritable: permissions, or for root (whom they do not stop) the
    immutable attribute. Skips when neither holds on this file system."""
    paths = [tree, *tree.rglob("*")]
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    immutable = False
    try:
        if _writable(tree) and shutil.which("chattr"):
            done = subprocess.run(["chattr", "-R", "+i", str(tree)], capture_output=True)
            immutable = done.returncode == 0
        if _writable(tree):
            pytest.skip("cannot make a directory read-only here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-R", "-i", str(tree)], check=True)
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


def _writable(directory: Path) -> bool:
    probe = directory / "write-probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


async def test_a_read_only_data_directory_still_serves_generation_and_only_saving_fails(
    settings: Settings, fake: FakeOllama, saved: Saved
) -> None:
    with read_only(settings.data_dir):
        async with connect(settings) as client:  # the server starts
            assert ok(await client.call_tool("generate_text", GENERATE))["text"]
            assert ok(await client.call_tool("list_local_models", {}))["models"]

            text = error_text(
                await client.call_tool("generate_text", {**GENERATE, "save_output": True})
            )
            assert "read-only" in text
            assert "MCP_OLLAMA_DATA_DIR" in text
            assert "without save_output" in text

            benchmark = {"model": MODEL, "prompts": ["Hi"], "runs": 1, "warmup": 0}
            text = error_text(await client.call_tool("benchmark_model", benchmark))
            assert "read-only" in text
            assert "save_report=false" in text
            assert ok(
                await client.call_tool("benchmark_model", {**benchmark, "save_report": False})
            )

            # Stored sessions stay readable; continuing one is refused before the model runs.
            await saved.assert_intact(client)
            generations = len(fake.requests_to("/api/chat"))
            chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
            text = error_text(await client.call_tool("chat", {**chat, "session_id": SESSION}))
            assert DATABASE_NAME in text
            assert "read-only" in text
            assert "MCP_OLLAMA_DATA_DIR" in text
            assert len(fake.requests_to("/api/chat")) == generations
            assert ok(await client.call_tool("chat", chat))["message"]["content"]

    async with connect(settings) as client:  # writable again
        output = ok(await client.call_tool("generate_text", {**GENERATE, "save_output": True}))
        assert (settings.data_dir / "outputs" / f"{output['saved_output']}.json").is_file()
        await saved.assert_intact(client)


@contextmanager
def disk_full_after(budget: int) -> Iterator[None]:
    """The disk fills up after `budget` more bytes: a write that crosses it stores what fits,
    then fails with ENOSPC, as the kernel does. Only the data directory's writer sees it."""
    real_write = mcp_ollama.storage._write_fully
    left = [budget]

    def write(fd: int, data: bytes) -> None:
        if len(data) > left[0]:
            os.write(fd, data[: left[0]])
            left[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        left[0] -= len(data)
        real_write(fd, data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mcp_ollama.storage, "_write_fully", write)
        yield


@pytest.mark.parametrize("budget", [0, 600], ids=["nothing-fits", "markdown-fits"])
async def test_a_full_disk_while_saving_a_report_leaves_no_partial_report(
    settings: Settings, saved: Saved, budget: int
) -> None:
    benchmark = {"model": MODEL, "prompts": ["Count to three"], "runs": 1, "warmup": 0}
    async with connect(settings) as client:
        with disk_full_after(budget):
            text = error_text(await client.call_tool("benchmark_model", benchmark))
        assert "is full" in text
        assert "free some space" in text
        assert "save_report=false" in text
        # Neither the report's JSON nor its Markdown half-exists: the report set is as before.
        assert snapshot(settings.data_dir) == saved.files
        await saved.assert_intact(client)

        report = ok(await client.call_tool("benchmark_model", benchmark))  # space again
        listed = ok(await client.call_tool("list_reports", {}))
        assert report["report_id"] in [r["id"] for r in listed["reports"]]


def test_a_write_the_kernel_refuses_midway_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "reports" / "report.json"
    target.parent.mkdir()
    target.write_text('{"old": true}\n')
    # RLIMIT_FSIZE makes the kernel itself refuse the write past 4 KiB (EFBIG), part-way through.
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from mcp_ollama.errors import StorageError\n"
        "from mcp_ollama.storage import atomic_write_bytes\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    atomic_write_bytes(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    assert "is full" in done.stdout
    assert "MCP_OLLAMA_DATA_DIR" in done.stdout
    assert target.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]


async def test_a_corrupt_model_cache_is_ignored_with_a_warning_and_rebuilt(
    settings: Settings, fake: FakeOllama, saved: Saved, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = settings.data_dir / "cache" / "models.json"
    cache.write_text('{"version": 1, "fetched_at": 17, "models": [{"na')  # cut mid-write
    captured = structlog.testing.CapturingLogger()
    monkeypatch.setattr(mcp_ollama.catalog, "logger", captured)

    async with connect(settings) as client:
        listed = ok(await client.call_tool("list_local_models", {}))
        assert [m["name"] for m in listed["models"]] == [m.name for m in fake.models]
        assert not listed.get("stale")
        await saved.assert_intact(client)

    warnings = [call for call in captured.calls if call.method_name == "warning"]
    assert [call.args[0] for call in warnings] == ["discarding corrupt model cache"]
    assert warnings[0].kwargs["path"] == str(cache)
    rebuilt = json.loads(cache.read_text())
    assert [m["name"] for m in rebuilt["models"]] == [m.name for m in fake.models]


async def test_a_corrupt_session_database_is_moved_aside_with_a_clear_error_and_replaced(
    settings: Settings, saved: Saved
) -> None:
    database = settings.data_dir / DATABASE_NAME
    garbage = b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 1024
    database.write_bytes(garbage)

    async with connect(settings) as client:
        # Generation does not need the database: it keeps working while it is broken.
        assert ok(await client.call_tool("generate_text", GENERATE))["text"]

        text = error_text(await client.call_tool("get_session", {"session_id": SESSION}))
        assert "corrupt" in text
        assert str(database) in text
        assert ".recover" in text
        assert "Call again" in text

        assert ok(await client.call_tool("list_sessions", {}))["sessions"] == []
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
        ok(await client.call_tool("chat", {**chat, "session_id": "fresh"}))
        assert ok(await client.call_tool("get_session", {"session_id": "fresh"}))["messages"]

    moved = sorted(settings.data_dir.glob(f"{DATABASE_NAME}.corrupt-*"))
    assert [p.name for p in moved if not p.name.endswith(("-wal", "-shm"))] == [moved[0].name]
    assert moved[0].read_bytes() == garbage  # nothing of the old file was lost
    assert str(moved[0]) in text
    assert saved.files == snapshot(settings.data_dir)
    assert temp_files(settings.data_dir) == []
