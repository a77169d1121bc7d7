"""Who may talk to the HTTP transports: the bind check, allowed hosts and origins, and the token.

Owns the HTTP security pieces: `check_bind` (no non-loopback bind without a token),
`transport_security` (DNS-rebinding protection: allowed `Host` and `Origin` headers),
`HostSyntaxMiddleware` (421 for a malformed `Host`) and `BearerTokenMiddleware` (401 without the
token); `server.transports` puts them in front of the app it serves.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import time

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
REFUSAL_LOG_INTERVAL = 60.0
"""Seconds between two log lines about refused requests from one peer."""
MAX_LOGGED_PEERS = 1024
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
    names = [name.lower() for name in settings.allowed_hosts]
    bind = settings.http_host.strip().lower()
    if not _is_wildcard(bind) and not is_loopback_bind(bind):
        names.append(bind)  # a specific address we listen on is a legitimate Host
    for name in names:
        entries = _host_entries(name)
        hosts += entries
        # A page served from an allowed host is the same site as the server.
        origins += [f"{scheme}://{entry}" for scheme in ("http", "https") for entry in entries]
    for origin in settings.allowed_origins:
        origins += _origin_entries(origin.lower())
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def check_bind(settings: Settings) -> None:
    """Refuse to expose the server beyond this machine without a bearer token.

    Allowed hosts are no protection here: they stop a browser page from reaching the server
    through DNS rebinding, but any machine on the network can send whatever `Host` it likes.

    Raises:
        SettingsError: a non-loopback bind with no auth_token and no allow_insecure_bind.
    """
    host = settings.http_host
    if settings.transport == "stdio" or is_loopback_bind(host):
        return
    if settings.auth_token is None:
        if not settings.allow_insecure_bind:
            raise SettingsError(
                f"refusing to listen on {host} without a token: every machine that can reach it "
                "could use your models and read every stored conversation (--allowed-hosts "
                "does not stop them: any client can send an allowed Host header). Set a bearer "
                "token (MCP_OLLAMA_AUTH_TOKEN), or pass --allow-insecure-bind if everyone on "
                "the network may use it. To stay local, use --host 127.0.0.1."
            )
        logger.warning(
            "listening beyond loopback without a token (--allow-insecure-bind): anyone who can "
            "reach this address can call every tool and read every stored conversation",
            bind=host,
        )
    if _is_wildcard(host) and not settings.allowed_hosts:
        logger.warning(
            "only loopback Host headers are accepted; remote clients get 421 until their Host "
            "is listed in --allowed-hosts",
            bind=host,
        )


class HostSyntaxMiddleware:
    """Answer 421 to a `Host` header that is not a host name with an optional numeric port, and
    lower-case `Host` and `Origin` for everything after it.

    The SDK's allowlist matches `127.0.0.1:*` as a prefix, so `127.0.0.1:1@evil.example` would
    pass it; no browser sends such a header, so refusing it costs nothing. Host names are
    case-insensitive, but the allowlist compares exact strings: `Host: LOCALHOST` is loopback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host header's shape, then hand over to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if host is not None and not _HOST_HEADER.fullmatch(host):
            response = Response("Invalid Host header", status_code=421, media_type="text/plain")
            await response(scope, receive, send)
            return
        headers = [
            (name, value.lower() if name in _CASELESS_HEADERS else value)
            for name, value in scope["headers"]
        ]
        await self.app({**scope, "headers": headers}, receive, send)


_CASELESS_HEADERS = frozenset({b"host", b"origin"})


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
        self._logged: dict[str, float] = {}  # peer address -> when its last refusal was logged

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
        self._log_refusal(scope)
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

    def _log_refusal(self, scope: Scope) -> None:
        """Log a refused request, at most once a minute per peer: probing shows in the log,
        and a flood of requests does not flood it."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        now = time.monotonic()
        if now - self._logged.get(peer, -REFUSAL_LOG_INTERVAL) < REFUSAL_LOG_INTERVAL:
            return
        if len(self._logged) >= MAX_LOGGED_PEERS:
            self._logged.clear()
        self._logged[peer] = now
        logger.warning(
            "request without a valid bearer token refused", peer=peer, path=scope["path"]
        )
