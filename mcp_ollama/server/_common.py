"""Shared wiring for the MCP layer: state access, error translation, progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from mcp_ollama.errors import MCPOllamaError
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings

__all__ = [
    "GENERATES",
    "LOCAL_READ",
    "SHUTTING_DOWN",
    "AppState",
    "cancel_calls_in_flight",
    "progress_callback",
    "service_of",
    "tool_errors",
]

# Hints are truthful: everything stays local (open_world=False) except pulls, which reach the
# registry; management tools change what is installed. A hint equal to the spec's default
# (read-only false, destructive true, idempotent false, open-world true) is left out: every
# listing repeats it.
LOCAL_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
LOCAL_WRITE = ToolAnnotations(destructive_hint=False, idempotent_hint=True, open_world_hint=False)
LOCAL_DESTRUCTIVE = ToolAnnotations(idempotent_hint=True, open_world_hint=False)
REGISTRY_WRITE = ToolAnnotations(destructive_hint=False, idempotent_hint=True)
# Generation only reads the model, but a call may append to a chat session or save its output
# (save_output), so it is not read-only; nothing it writes replaces what was there.
GENERATES = ToolAnnotations(destructive_hint=False, open_world_hint=False)
SAVES_REPORT = GENERATES


SHUTTING_DOWN = (
    "the server is shutting down and this call was cancelled; call again once it is running"
)
_IN_FLIGHT: dict[anyio.CancelScope, anyio.Event] = {}
"""The tool calls running in this process; a signal is process-wide, and so is this."""


@dataclass
class AppState:
    """What the lifespan hands every request: the configured core."""

    settings: Settings
    service: OllamaService


def service_of(ctx: Context[Any, Any]) -> OllamaService:
    """The core service behind this request."""
    state: AppState = ctx.request_context.lifespan_context
    return state.service


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn our own errors into `ToolError` (an `isError` result the agent can act on), and
    make the call cancellable by `cancel_calls_in_flight()` at shutdown.

    Programming errors propagate: the SDK masks them and logs the traceback.
    """
    answered = anyio.Event()
    with anyio.CancelScope() as scope:
        _IN_FLIGHT[scope] = answered
        try:
            yield
        except MCPOllamaError as exc:
            raise ToolError(str(exc)) from exc
        finally:
            del _IN_FLIGHT[scope]
            answered.set()
    if scope.cancelled_caught:
        raise ToolError(SHUTTING_DOWN)


async def cancel_calls_in_flight(timeout: float) -> None:
    """At shutdown: cancel every tool call running in this process, and wait (at most
    `timeout` seconds) until each has answered.

    A cancelled call answers `SHUTTING_DOWN` as its error, and leaving its `async with` blocks
    closes its Ollama stream, so the daemon stops generating for nobody.
    """
    calls = list(_IN_FLIGHT.items())
    for scope, _ in calls:
        scope.cancel()
    with anyio.move_on_after(timeout):
        for _, answered in calls:
            await answered.wait()


def progress_callback(ctx: Context[Any, Any]) -> ProgressCallback:
    """A core progress callback that reports to this request's caller.

    It is always given: whether the caller sent a progress token is not visible in `_meta` on
    every dispatch path (in-memory 2026-07-28 calls carry the callback out of band), and
    `report_progress` is already a no-op when nobody listens. The core throttles it to ~10/s.
    """

    async def report(progress: float, total: float | None, message: str | None) -> None:
        await ctx.report_progress(progress, total, message)

    return report
