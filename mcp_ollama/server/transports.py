"""Serving the MCP server over stdio, streamable HTTP (/mcp) and SSE (/sse)."""

from __future__ import annotations

from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from mcp_ollama.settings import Settings, is_loopback_url

__all__ = ["http_app", "serve"]

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names plus whatever the user allowed."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*LOOPBACK_HOSTS, *settings.allowed_hosts],
        allowed_origins=[*LOOPBACK_ORIGINS, *settings.allowed_origins],
    )


def http_app(mcp: MCPServer[Any], settings: Settings) -> Starlette:
    """The ASGI app for the configured HTTP transport."""
    security = transport_security(settings)
    if settings.transport == "sse":
        return mcp.sse_app(
            transport_security=security,
            max_request_body_size=settings.max_body_bytes,
            host=settings.http_host,
        )
    return mcp.streamable_http_app(
        transport_security=security,
        max_request_body_size=settings.max_body_bytes,
        host=settings.http_host,
    )


async def serve(mcp: MCPServer[Any], settings: Settings) -> None:
    """Run the configured transport until it ends."""
    if settings.transport == "stdio":
        await mcp.run_stdio_async()
        return
    config = uvicorn.Config(
        http_app(mcp, settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our stderr logging, never uvicorn's stdout handlers
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
    await uvicorn.Server(config).serve()


def is_loopback_bind(host: str) -> bool:
    """Whether an HTTP bind address only accepts connections from this machine."""
    return is_loopback_url(f"http://{host}:1")
