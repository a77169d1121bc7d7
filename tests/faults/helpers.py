"""The fault matrix's common ground (this folder): a fresh server per connection, and a data
directory in which a server saved one of everything (an output, a report, a session, the model
cache), with the check that none of it was lost (the fixtures are in conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import Client

import mcp_ollama.storage
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.mcp_helpers import ok

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama3.2:1b"
SESSION = "kept-session"
GENERATE = {"model": MODEL, "prompt": "Say hi"}


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Client]:
    """A fresh server (fresh lifespan, caches and database connection) and a client for it."""
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


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
    assert list((data_dir / "cache").glob("models-*.json"))
    return Saved(data_dir, snapshot(data_dir), ["Hello", reply["message"]["content"]])
