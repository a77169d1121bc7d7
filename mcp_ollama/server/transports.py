"""Serving the MCP server over stdio, streamable HTTP (/mcp) and SSE (/sse + /messages/).

HTTP transports are safe by default: they bind 127.0.0.1, reject foreign `Host` (421) and
`Origin` (403) headers against DNS rebinding, cap request bodies, and with `auth_token` set
answer 401 to any request without `Authorization: Bearer <token>` (compared in constant time).
Binding beyond loopback with neither a token nor an allowed-hosts list is refused at start.
`/health` is always open and says only that the server is up, and its version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import ipaddress
import json
import logging
import os
import re
import select
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, NoReturn

import anyio
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
from mcp_ollama.server._common import cancel_calls_in_flight
from mcp_ollama.settings import Settings

__all__ = [
    "HEALTH_PATH",
    "MCP_PATH",
    "SSE_PATH",
    "BearerTokenMiddleware",
    "HostSyntaxMiddleware",
    "check_bind",
    "exit_process",
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
SHUTDOWN_GRACE = 1
"""Seconds HTTP requests in flight get to finish after SIGTERM/SIGINT before they are cancelled."""
SHUTDOWN_TIMEOUT = 8.0
"""Seconds a clean stop may take after a signal before the process ends regardless."""
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
    # Added last, so it runs first: a malformed Host never reaches auth or the SDK.
    app.add_middleware(HostSyntaxMiddleware)
    return app


def uvicorn_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """Uvicorn settings: our stderr logging (never uvicorn's stdout handlers), app lifespan on."""
    return uvicorn.Config(
        app,
        host=settings.http_host.strip().strip("[]"),
        port=settings.http_port,
        log_config=None,
        log_level=settings.log_level.lower(),
        # uvicorn resets its access logger to log_level, undoing `configure_logging`: a line
        # per request on stderr (a write and its formatting on every call) only at DEBUG.
        access_log=settings.log_level == "DEBUG",
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )


async def serve(mcp: MCPServer[Any], settings: Settings) -> int | None:
    """Run the configured transport until it ends, or until SIGTERM or SIGINT stops it.

    A signal stops the server cleanly: calls in flight are cancelled (closing their Ollama
    streams), HTTP requests get `SHUTDOWN_GRACE` seconds to finish first, then the lifespan
    closes the stores and stops or leaves the daemon as configured. A second signal, or a clean
    stop that takes longer than `SHUTDOWN_TIMEOUT`, ends the process at once.

    Returns:
        The signal that stopped the server, or None when the transport ended by itself (stdin
        closed under stdio).

    Raises:
        SettingsError: an unprotected non-loopback bind (see `check_bind`).
    """
    stopped_by: list[int] = []
    async with anyio.create_task_group() as tg:
        if settings.transport == "stdio":
            with _endable_stdin() as end_input:

                async def stop_stdio() -> None:
                    await cancel_calls_in_flight(SHUTDOWN_GRACE)
                    # Then end the input as if the client had closed stdin: the SDK closes the
                    # session and the lifespan, its usual way out.
                    end_input()

                tg.start_soon(_stop_on_signals, stop_stdio, stopped_by)
                try:
                    await mcp.run_stdio_async()
                except* BrokenPipeError:
                    # The client died or closed our stdout: nobody is left to answer.
                    logger.info("client closed stdout; stopping")
        else:
            check_bind(settings)
            server = _UvicornServer(uvicorn_config(http_app(mcp, settings), settings))

            async def stop_http() -> None:
                # Calls answer first (their streams end), so uvicorn finds no request to cut.
                await cancel_calls_in_flight(SHUTDOWN_GRACE)
                # Event streams (SSE, a standalone GET stream) only ever end by being cut.
                logging.getLogger("uvicorn.error").addFilter(_expected_cancellations)
                server.should_exit = True

            tg.start_soon(_stop_on_signals, stop_http, stopped_by)
            path = SSE_PATH if settings.transport == "sse" else MCP_PATH
            logger.info(
                "listening",
                transport=settings.transport,
                url=f"http://{settings.http_host}:{settings.http_port}{path}",
                auth=settings.auth_token is not None,
            )
            await server.serve()
        tg.cancel_scope.cancel()  # the signal watcher outlives the transport's cleanup, no more
    return stopped_by[0] if stopped_by else None


class _EndableInput(io.RawIOBase):
    """A file descriptor whose blocked read another thread can end, as end-of-file.

    The SDK reads stdin in a worker thread; a thread blocked in `read()` cannot be cancelled,
    and would keep the server (and the interpreter, at exit) waiting until the client closes
    the pipe. Here every read first waits in `poll()` on stdin and on a wake-up pipe, and on
    stdout, whose closing by the client (an error on our end of the pipe) also means goodbye.
    """

    def __init__(self, fd: int, output_fd: int = -1) -> None:
        super().__init__()
        self._fd = fd
        self._output_fd = output_fd
        self._wake_read, self._wake_write = os.pipe()

    def readable(self) -> bool:
        """Always: this is an input."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read what stdin has, or return 0 (end-of-file) once `end()` was called."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        if self._output_fd >= 0:
            poller.register(self._output_fd, 0)  # reports only POLLERR / POLLHUP
        ready = {fd for fd, _ in poller.poll()}
        if self._wake_read in ready or self._output_fd in ready:
            return 0
        return os.readv(self._fd, [buffer])

    def end(self) -> None:
        """Make the pending and every later read return end-of-file (callable from anywhere)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    def close(self) -> None:
        """Close the wake-up pipe and the stdout duplicate; stdin stays open (it is not ours)."""
        if not self.closed:
            for fd in (self._wake_read, self._wake_write, self._output_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
        super().close()


@contextlib.contextmanager
def _endable_stdin() -> Iterator[Callable[[], None]]:
    """`sys.stdin` replaced, for the stdio transport, by one a signal can end; yields `end`.

    Given a stdin of its own, the SDK leaves fd 0 alone instead of pointing it at /dev/null;
    nothing here reads fd 0 or lets a child inherit it (children get /dev/null or a pipe).
    """
    original = sys.stdin
    try:
        fd = original.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdin: the SDK copes on its own
        fd = -1
    if sys.platform == "win32" or fd < 0:  # no select() on Windows pipes: the old way there
        yield lambda: None
        return
    try:
        # The SDK moves fd 1 aside while it serves; a duplicate keeps watching the client's pipe.
        output_fd = os.dup(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        output_fd = -1
    raw = _EndableInput(fd, output_fd)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="replace")
    try:
        yield raw.end
    finally:
        sys.stdin = original
        raw.close()


class _UvicornServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: `serve()` owns SIGTERM and SIGINT.

    uvicorn's would raise the signal again once it has shut down, so a clean stop would still
    end the process as killed by SIGTERM (exit status -15) instead of exit code 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to `serve()`."""
        yield


async def _stop_on_signals(
    stop: Callable[[], Coroutine[Any, Any, None]], stopped_by: list[int]
) -> None:
    """On the first SIGTERM/SIGINT start `stop` and arm a watchdog; on a second, exit now."""
    if sys.platform == "win32":  # no loop signal handlers there: Ctrl+C still stops the server
        return
    watchdog = threading.Timer(SHUTDOWN_TIMEOUT, _stop_took_too_long)
    watchdog.daemon = True
    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as tg:
                async for signum in signals:
                    name = signal.Signals(signum).name
                    if stopped_by:
                        logger.warning(
                            "second signal: exiting without finishing the clean stop", signal=name
                        )
                        exit_process(1)
                    stopped_by.append(signum)
                    logger.info("stopping", signal=name)
                    watchdog.start()
                    tg.start_soon(stop)
    finally:
        watchdog.cancel()  # the transport ended: the stop finished in time


def _expected_cancellations(record: logging.LogRecord) -> bool:
    """Drop uvicorn's traceback for a stream it cancelled at shutdown, as it was told to."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, asyncio.CancelledError)


def _stop_took_too_long() -> None:
    logger.error("the clean stop took too long: exiting now", timeout=SHUTDOWN_TIMEOUT)
    exit_process(1)


def exit_process(code: int) -> NoReturn:
    """End the process now, after flushing the logs: no waiting for threads stuck on I/O."""
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)
