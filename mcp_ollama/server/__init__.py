"""The MCP layer: `build_server()` wires the core into an `MCPServer`. Only this package (and
`mcp_ollama.cli`) imports `mcp`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from mcp.server import MCPServer

from mcp_ollama import __version__
from mcp_ollama.client import OllamaClient
from mcp_ollama.server._common import AppState
from mcp_ollama.server.tools_generation import register_generation_tools
from mcp_ollama.server.tools_models import register_model_tools
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings

__all__ = ["AppState", "build_server"]

INSTRUCTIONS = """\
Local models through the Ollama daemon on this machine. Start with list_local_models to see what
is installed; pull_model downloads more. generate_text and chat take a `preset` (fast, creative,
balanced, precise, long_form) and explicit `options`. Errors say what to do next."""


def build_server(settings: Settings, *, client: OllamaClient | None = None) -> MCPServer[AppState]:
    """A fresh server; `client` injects a daemon client (tests), otherwise one is made per run."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            ollama = client
            if ollama is None:
                ollama = await stack.enter_async_context(OllamaClient.from_settings(settings))
            yield AppState(settings=settings, service=OllamaService(settings, ollama))

    mcp: MCPServer[AppState] = MCPServer(
        "mcp-ollama",
        title="Ollama",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
    )
    register_generation_tools(mcp)
    register_model_tools(mcp)
    return mcp
