"""Serving the real server over an HTTP transport inside the test's event loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn

from mcp_ollama.server import build_server
from mcp_ollama.server.http_limits import ConnectionLimits
from mcp_ollama.server.transports import http_app, uvicorn_config
from mcp_ollama.settings import Settings
from tests.mcp_helpers import poll

__all__ = ["INITIALIZE", "MCP_HEADERS", "serving"]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
"""The handshake era's opening request, as a raw client sends it."""
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(
    settings: Settings, *, connections: ConnectionLimits | None = None
) -> AsyncIterator[str]:
    """Serve the configured HTTP transport on a free loopback port; yields its base URL.

    `connections` replaces the default connection limits (smaller ones, for quick tests).
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(http_app(build_server(settings), settings), settings)
    if connections is not None:
        config.http = connections.protocol()
        config.backlog = connections.backlog
    server = uvicorn.Server(config)
    with sock:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            await poll(lambda: server.started)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
