"""The fault matrix, the disk's faults, through a real MCP client: a read-only data directory, a
full disk, a file-size limit, a write the kernel refuses midway, a corrupt model cache and a
corrupt session database.

Each case checks the call that meets the fault, the call after it, and the saved data (see
__init__.py).
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog

import mcp_ollama.fleet.catalog
import mcp_ollama.storage
from mcp_ollama.conversations.database import DATABASE_NAME
from mcp_ollama.fleet.catalog import cache_path
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.faults.helpers import (
    GENERATE,
    MODEL,
    REPO_ROOT,
    SESSION,
    Saved,
    connect,
    snapshot,
    temp_files,
)
from tests.mcp_helpers import error_text, ok
from tests.test_shutdown import server_env, stdio_server

pytestmark = pytest.mark.anyio


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


async def test_a_data_directory_writable_again_takes_session_turns_without_a_restart(
    settings: Settings, saved: Saved
) -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Again"}]}
    async with connect(settings) as client:
        with read_only(settings.data_dir):
            refused = error_text(await client.call_tool("chat", {**chat, "session_id": SESSION}))
        answer = ok(await client.call_tool("chat", {**chat, "session_id": SESSION}))
        session = ok(await client.call_tool("get_session", {"session_id": SESSION}))
    assert "read-only" in refused
    assert answer["session_id"] == SESSION
    assert [m["content"] for m in session["messages"]][:2] == saved.messages
    assert session["messages"][-2]["content"] == "Again"


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
    cache = cache_path(settings.data_dir, settings.base_url)
    cache.write_text('{"version": 1, "fetched_at": 17, "models": [{"na')  # cut mid-write
    captured = structlog.testing.CapturingLogger()
    monkeypatch.setattr(mcp_ollama.fleet.catalog, "logger", captured)

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


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux's prlimit")
async def test_session_turns_are_stored_again_once_a_file_size_limit_is_lifted(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    env = server_env(tmp_path, fake_ollama.ollama_host)
    database = tmp_path / "data" / DATABASE_NAME
    stored: list[str] = []

    def turn(content: str) -> dict[str, Any]:
        message = {"role": "user", "content": content}
        return {"model": MODEL, "messages": [message], "session_id": SESSION}

    async with stdio_server(env, tmp_path / "stderr.log") as session:
        pid = session.process.pid
        assert not (await session.call_tool("chat", turn("first")))["isError"]
        largest = max(p.stat().st_size for p in database.parent.glob(f"{DATABASE_NAME}*"))
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (largest + 64_000, resource.RLIM_INFINITY))
        for number in range(100):
            answer = await session.call_tool("chat", turn(f"turn {number} " + "x" * 2000))
            if answer["isError"]:
                refused = answer["content"][0]["text"]
                break
            stored.append(f"turn {number} " + "x" * 2000)
        else:
            pytest.fail("the file-size limit was never reached")
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)
        assert not (await session.call_tool("chat", turn("after the limit")))["isError"]
    assert "ulimit" in refused
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT data FROM messages WHERE role = 'user' ORDER BY seq")
        users = [json.loads(row[0])["content"] for row in rows]
    assert users == ["first", *stored, "after the limit"]
