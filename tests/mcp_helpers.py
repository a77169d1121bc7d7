"""Helpers for tests that drive the MCP server with real clients."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from mcp_ollama.server import AppState, build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama

__all__ = [
    "ProgressLog",
    "SharedServer",
    "call_every_tool",
    "effective_hints",
    "error_text",
    "free_port",
    "isolated_settings",
    "ok",
    "poll",
    "shared_server",
]


class ProgressLog:
    """A client progress callback that records every notification."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.totals: list[float | None] = []
        self.messages: list[str | None] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.totals.append(total)
        self.messages.append(message)


async def poll(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds, bounded by `timeout` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.005)


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful call."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    """The text content of a tool result: what the model reads."""
    return "".join(block.text for block in result.content if block.type == "text")


def block_text(block: object) -> str:
    """The text of a content block or resource contents, which a union types loosely."""
    text = getattr(block, "text", None)
    assert isinstance(text, str), block
    return text


def error_text(result: CallToolResult) -> str:
    """The text of an error result, which carries no structured content."""
    assert result.is_error
    assert result.structured_content is None
    block = result.content[0]
    assert block.type == "text"
    return block.text


# What a client assumes for a hint the server leaves out (the MCP specification's defaults).
SPEC_HINTS = {
    "read_only_hint": False,
    "destructive_hint": True,
    "idempotent_hint": False,
    "open_world_hint": True,
}


def effective_hints(annotations: ToolAnnotations | None) -> ToolAnnotations:
    """A tool's hints as a client reads them: a left-out hint is the spec's default."""
    given = annotations.model_dump(exclude_none=True) if annotations else {}
    return ToolAnnotations(**{**SPEC_HINTS, **given})


def free_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def isolated_settings(directory: Path, **values: Any) -> Settings:
    """Settings built with no OLLAMA_*/MCP_OLLAMA_* variable or user config file in sight.

    For module-scoped fixtures, which are created before the autouse `clean_environ` runs.
    Every tool is enabled, as `clean_environ` does.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(("OLLAMA_", "MCP_OLLAMA_")):
                patch.delenv(name)
        (directory / "config.toml").touch()
        patch.setenv("MCP_OLLAMA_CONFIG", str(directory / "config.toml"))
        return Settings(data_dir=directory / "data", **{"tools": ["all"], **values})


async def call_every_tool(
    client: Client, progress: dict[str, ProgressLog] | None = None
) -> dict[str, dict[str, Any]]:
    """List the tools, then call each of the core ones once with valid arguments, as a client
    that knows nothing of the project would; returns each tool's structured result.

    `progress` maps tool names to the logs that receive their progress notifications. Needs the
    default fake's models and destructive operations enabled (for delete_model).
    """
    listed = {tool.name for tool in (await client.list_tools()).tools}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_local_models", {}),
        ("show_model", {"model": "llama3.2:1b"}),
        ("generate_text", {"model": "llama3.2:1b", "prompt": "Say hi"}),
        ("chat", {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "Hi"}]}),
        ("embed", {"model": "nomic-embed-text", "input": ["a", "b"]}),
        ("list_running_models", {}),
        ("pull_model", {"model": "tinyllama"}),
        ("copy_model", {"source": "tinyllama", "destination": "tiny-copy"}),
        ("delete_model", {"model": "tiny-copy"}),
        ("unload_model", {"model": "llama3.2:1b"}),
    ]
    assert {name for name, _ in calls} <= listed
    logs = progress or {}
    return {
        name: ok(await client.call_tool(name, arguments, progress_callback=logs.get(name)))
        for name, arguments in calls
    }


@dataclass
class SharedServer:
    """One fake daemon and one built server, shared by a test module.

    Building a server costs a few hundred milliseconds of schema generation; a module that
    connects a fresh client per test (a fresh lifespan, daemon client and model cache) and
    calls `reset()` first gets the isolation of a new server without paying that each time.
    """

    handle: FakeServerHandle
    settings: Settings
    server: MCPServer[AppState]

    def reset(self) -> FakeOllama:
        """The fake back in its initial state and the data directory emptied."""
        self.handle.fake.reset()
        shutil.rmtree(self.settings.data_dir, ignore_errors=True)
        return self.handle.fake


@contextmanager
def shared_server(directory: Path) -> Iterator[SharedServer]:
    """A fake daemon and a server configured for it (no auto-start, no CLI fallback)."""
    with serve_fake_ollama(FakeOllama()) as handle:
        settings = isolated_settings(
            directory,
            host=handle.url,
            auto_start=False,
            cli_fallback=False,
            retry_backoff=0.01,
            stall_timeout=5,
        )
        yield SharedServer(handle, settings, build_server(settings))
