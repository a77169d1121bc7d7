"""Who may talk to the HTTP transports: the bind check, allowed hosts and origins, and the token.

Owns the HTTP security pieces: `check_bind` (no unprotected non-loopback bind),
`transport_security` (DNS-rebinding protection: allowed `Host` and `Origin` headers),
`HostSyntaxMiddleware` (421 for a malformed `Host`) and `BearerTokenMiddleware` (401 without the
token); `server.transports` puts them in front of the app it serves.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re

import structlog
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_ollama.errors import SettingsError
from mcp_ollama.settings import Settings

__all__ = [
    "BearerTokenMiddleware",
    "HostSyntaxMiddleware",
    "check_bind",
    "is_loopback_bind",
    "transport_security",
]

logger = structlog.get_logger()

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
# What a browser can put in `Host`: a DNS name or an IP literal, then at most a numeric port.
_HOST_HEADER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?")


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


class HostSyntaxMiddleware:
    """Answer 421 to a `Host` header that is not a host name with an optional numeric port.

    The SDK's allowlist matches `127.0.0.1:*` as a prefix, so `127.0.0.1:1@evil.example` would
    pass it; no browser sends such a header, so refusing it costs nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host header's shape, then hand over to the app."""
        host = Headers(scope=scope).get("host") if scope["type"] == "http" else None
        if host is None or _HOST_HEADER.fullmatch(host):
            await self.app(scope, receive, send)
            return
        response = Response("Invalid Host header", status_code=421, media_type="text/plain")
        await response(scope, receive, send)


class BearerTokenMiddleware:
    """Answer 401 to HTTP requests without `Authorization: Bearer <token>`, except open paths.

    A pure ASGI middleware, so streamed responses (SSE, streamable HTTP) pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, token: str, open_paths: frozenset[str]) -> None:
        if not token:
            # An empty token would match `Authorization: Bearer` with nothing after it.
            raise SettingsError("auth_token is empty: set a real token or unset it")
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
