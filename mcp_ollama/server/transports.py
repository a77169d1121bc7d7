"""Serving the MCP server over stdio, streamable HTTP (/mcp) and SSE (/sse + /messages/).

HTTP transports are safe by default: they bind 127.0.0.1, reject foreign `Host` (421) and
`Origin` (403) headers against DNS rebinding, cap request bodies, and with `auth_token` set
answer 401 to any request without `Authorization: Bearer <token>` (compared in constant time).
Binding beyond loopback with neither a token nor an allowed-hosts list is refused at start.
`/health` is always open and says only that the server is up, and its version.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

import structlog
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_ollama import __version__
from mcp_ollama.errors import SettingsError
from mcp_ollama.settings import Settings

__all__ = [
    "HEALTH_PATH",
    "MCP_PATH",
    "SSE_PATH",
    "BearerTokenMiddleware",
    "check_bind",
    "http_app",
    "is_loopback_bind",
    "serve",
    "transport_security",
]

logger = structlog.get_logger()

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages/"
HEALTH_PATH = "/health"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def is_loopback_bind(host: str) -> bool:
    """Whether an HTTP bind address only accepts connections from this machine.

    >>> [is_loopback_bind(h) for h in ("127.0.0.1", "localhost", "[::1]", "0.0.0.0", "10.0.0.2")]
    [True, True, True, False, False]
    """
    bare = host.strip().strip("[]")
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    """Whether a bind address means every interface.

    >>> [_is_wildcard(h) for h in ("0.0.0.0", "[::]", "::", "10.0.0.2")]
    [True, True, True, False]
    """
    return host.strip().strip("[]") in WILDCARD_BINDS


def _host_entries(host: str) -> list[str]:
    """`Host` header patterns for one allowed name: with any port, and without one.

    >>> _host_entries("box.lan"), _host_entries("box.lan:8000"), _host_entries("::1")
    (['box.lan', 'box.lan:*'], ['box.lan:8000'], ['[::1]', '[::1]:*'])
    """
    host = host.strip()
    if ":" in host and not host.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return [host]  # name:port, already exact
        host = f"[{host}]"
    elif host.startswith("[") and not host.endswith("]"):
        return [host]  # [v6]:port
    return [host, f"{host}:*"]


def _origin_entries(origin: str) -> list[str]:
    """`Origin` patterns: an origin given without a port also matches it with any port.

    >>> _origin_entries("https://app.example"), _origin_entries("http://box.lan:3000")
    (['https://app.example', 'https://app.example:*'], ['http://box.lan:3000'])
    """
    origin = origin.strip().rstrip("/")
    authority = origin.split("://", 1)[-1]
    if authority.rsplit("]", 1)[-1].count(":"):
        return [origin]
    return [origin, f"{origin}:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection: loopback names, the bind address, and what the user allowed.

    `*` in allowed_hosts switches the protection off (a reverse proxy that checks hosts itself).
    """
    if "*" in settings.allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = list(LOOPBACK_HOSTS)
    origins = list(LOOPBACK_ORIGINS)
    names = list(settings.allowed_hosts)
    bind = settings.http_host.strip()
    if not _is_wildcard(bind) and not is_loopback_bind(bind):
        names.append(bind)  # a specific address we listen on is a legitimate Host
    for name in names:
        entries = _host_entries(name)
        hosts += entries
        # A page served from an allowed host is the same site as the server.
        origins += [f"{scheme}://{entry}" for scheme in ("http", "https") for entry in entries]
    for origin in settings.allowed_origins:
        origins += _origin_entries(origin)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def check_bind(settings: Settings) -> None:
    """Refuse to expose the server beyond this machine without a token or a host allowlist.

    Raises:
        SettingsError: a non-loopback bind with no auth_token, no allowed_hosts and no
            allow_insecure_bind.
    """
    host = settings.http_host
    if settings.transport == "stdio" or is_loopback_bind(host) or settings.allow_insecure_bind:
        return
    if settings.auth_token is None and not settings.allowed_hosts:
        raise SettingsError(
            f"refusing to listen on {host}: that exposes your models to the network with no "
            "protection. Set a bearer token (MCP_OLLAMA_AUTH_TOKEN) and/or the Host names "
            "clients use (--allowed-hosts / MCP_OLLAMA_ALLOWED_HOSTS), or pass "
            "--allow-insecure-bind if the network is trusted. To stay local, use --host 127.0.0.1."
        )
    if _is_wildcard(host) and not settings.allowed_hosts:
        logger.warning(
            "only loopback Host headers are accepted; remote clients get 421 until their Host "
            "is listed in --allowed-hosts",
            bind=host,
        )


class BearerTokenMiddleware:
    """Answer 401 to HTTP requests without `Authorization: Bearer <token>`, except open paths.

    A pure ASGI middleware, so streamed responses (SSE, streamable HTTP) pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, token: str, open_paths: frozenset[str]) -> None:
        self.app = app
        self._token = token.encode("utf-8")
        self._open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the token, then hand over to the app."""
        if scope["type"] != "http" or scope["path"] in self._open_paths:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, presented = header.partition(" ")
        # Starlette decodes headers as latin-1, so encoding back recovers the bytes sent (a
        # non-ASCII token arrives as UTF-8); compare_digest on bytes takes constant time.
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode("latin-1"), self._token
        ):
            await self.app(scope, receive, send)
            return
        challenge = 'Bearer realm="mcp-ollama"'
        if presented:
            challenge += ', error="invalid_token"'
        body = {
            "error": "invalid_token" if presented else "unauthorized",
            "error_description": "send the server's token as `Authorization: Bearer <token>` "
            "(MCP_OLLAMA_AUTH_TOKEN on the server)",
        }
        response = Response(
            json.dumps(body),
            status_code=401,
            media_type="application/json",
            headers={"WWW-Authenticate": challenge},
        )
        await response(scope, receive, send)


async def _health(_: Request) -> Response:
    """Liveness for load balancers and scripts; never says anything about the configuration."""
    return JSONResponse({"status": "ok", "name": "mcp-ollama", "version": __version__})


def http_app(mcp: MCPServer[Any], settings: Settings) -> Starlette:
    """The ASGI app for the configured HTTP transport (`sse`, else streamable HTTP)."""
    security = transport_security(settings)
    if settings.transport == "sse":
        app = mcp.sse_app(
            sse_path=SSE_PATH,
            message_path=MESSAGES_PATH,
            transport_security=security,
            max_request_body_size=settings.max_body_bytes,
        )
    else:
        app = mcp.streamable_http_app(
            streamable_http_path=MCP_PATH,
            # Progress notifications need a streamed response: a JSON body would drop them.
            json_response=False,
            transport_security=security,
            max_request_body_size=settings.max_body_bytes,
        )
    app.add_route(HEALTH_PATH, _health, methods=["GET"])
    if settings.auth_token is not None:
        app.add_middleware(
            BearerTokenMiddleware,
            token=settings.auth_token.get_secret_value(),
            open_paths=frozenset({HEALTH_PATH}),
        )
    return app


def uvicorn_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """Uvicorn settings: our stderr logging (never uvicorn's stdout handlers), app lifespan on."""
    return uvicorn.Config(
        app,
        host=settings.http_host.strip().strip("[]"),
        port=settings.http_port,
        log_config=None,
        log_level=settings.log_level.lower(),
        lifespan="on",
        server_header=False,
    )


async def serve(mcp: MCPServer[Any], settings: Settings) -> None:
    """Run the configured transport until it ends.

    Raises:
        SettingsError: an unprotected non-loopback bind (see `check_bind`).
    """
    if settings.transport == "stdio":
        await mcp.run_stdio_async()
        return
    check_bind(settings)
    path = SSE_PATH if settings.transport == "sse" else MCP_PATH
    logger.info(
        "listening",
        transport=settings.transport,
        url=f"http://{settings.http_host}:{settings.http_port}{path}",
        auth=settings.auth_token is not None,
    )
    await uvicorn.Server(uvicorn_config(http_app(mcp, settings), settings)).serve()
