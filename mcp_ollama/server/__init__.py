"""The MCP front end: `build_server()` wires the core into an `MCPServer` (tools, resources,
prompts, completions, transports). Only this folder imports `mcp`, and it stays thin: the work
is done by `OllamaService`.

Must not import: `cli/` (the other front end) or the HTTP library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
from mcp.server import MCPServer

from mcp_ollama import __version__
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.generation.imported_config import preset_book
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.server._common import AppState
from mcp_ollama.server.apps import report_view
from mcp_ollama.server.client_log import ClientLog
from mcp_ollama.server.clients import Clients
from mcp_ollama.server.completions import completion_registry
from mcp_ollama.server.instructions import instructions
from mcp_ollama.server.listed_tools import listed_tools
from mcp_ollama.server.live import LiveUpdates
from mcp_ollama.server.prompts import register_prompts
from mcp_ollama.server.resources import register_resources
from mcp_ollama.server.resources_models import register_model_resources
from mcp_ollama.server.shared_state import SharedState
from mcp_ollama.server.tools_sessions import register_session_resources
from mcp_ollama.server.toolset_server import ToolsetServer
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings

__all__ = ["AppState", "build_server"]


def _shielded(cleanup: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """`cleanup` run to its end even when the lifespan exits because a signal cancelled the
    server: the database must still be closed, and a daemon we started stopped if asked."""

    async def run() -> None:
        with anyio.CancelScope(shield=True):
            await cleanup()

    return run


def build_server(settings: Settings, *, client: OllamaClient | None = None) -> MCPServer[AppState]:
    """A fresh server; `client` injects a daemon client (tests), otherwise each host gets one
    per run."""
    # Shared by every connection, and by the static resources, which get no request context.
    presets = preset_book(settings)
    reports = ReportStore(settings.data_dir, retention=settings.report_retention)
    # What the server sends unasked: resource updates and log messages, to every client.
    clients = Clients()
    live = LiveUpdates(clients, reports)
    client_log = ClientLog(clients)

    @asynccontextmanager
    async def open_state() -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            service = OllamaService(settings, client, presets=presets, reports=reports)
            state = AppState(settings=settings, service=service)
            stack.push_async_callback(_shielded(state.service.aclose))
            # Daemons are probed and started lazily, on first need, never here: start-up
            # stays fast. At exit a daemon we started is stopped if the settings ask for it.
            stack.push_async_callback(_shielded(service.fleet.stop))
            # Background work (refreshing stale model lists, probing down hosts until they
            # rejoin) lives as long as the server.
            background = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(background.cancel_scope.cancel)
            service.fleet.attach(background)
            service.usage.attach(background)
            # What writers killed mid-save left behind goes, off the start-up path.
            background.start_soon(anyio.to_thread.run_sync, reports.sweep)
            # Completion handlers get no request context: they reach the state through this.
            stack.enter_context(completion_registry(mcp).bound(state))
            # Its changes and log events reach the clients, sent from its background.
            await stack.enter_async_context(clients.attached(state, background))
            stack.callback(service.changes.subscribe(live.on_change))
            stack.enter_context(client_log.listening())
            yield state

    # One state for every connection of an HTTP app (see `shared_state`).
    shared = SharedState(open_state)
    mcp: MCPServer[AppState] = ToolsetServer(
        settings,
        name="mcp-ollama",
        title="Ollama",
        instructions=instructions(settings),
        version=__version__,
        lifespan=shared.connection,
        extensions=[report_view()],
        subscriptions=clients.bus,
        # Only the enabled tools are listed (see toolsets.py), each from the manifest and built
        # on its first call (see listed_tools.py): start-up builds none.
        tools=listed_tools(settings),
    )
    shared.register(mcp)
    live.install(mcp)
    client_log.install(mcp)
    register_model_resources(mcp, clients)
    register_session_resources(mcp, settings)
    register_resources(mcp, presets=presets, reports=reports)
    register_prompts(mcp)
    return mcp
