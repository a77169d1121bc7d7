"""How much hostile or careless HTTP clients can hold: connections, and sessions.

Connections (`ConnectionLimits`, a uvicorn protocol): one that has not sent a whole request's
headers within `HEADER_TIMEOUT` seconds of opening (or of its last response) is closed, before
any check of the token: idle and slow-header sockets would otherwise pile up until the process
runs out of file descriptors and refuses everyone. Their number is capped below the descriptor
limit; at the cap the connection idle longest makes room, and a newcomer is turned away only when
every connection is busy with a request.

Sessions (`SessionLimitMiddleware`): streamable HTTP sessions and SSE streams a client never
closed hold memory until they expire (half an hour). At most `max_http_sessions` are kept: a new
one closes the session idle longest (no request in flight; for SSE, no message posted), so a
flood of abandoned sessions can neither exhaust memory nor lock out new clients.

The SDK offers no hook for either: this module alone reaches into uvicorn's protocol (`cycle`) and
the SDK's session manager (`_server_instances`, `_discard_session`), and the tests of hostile
clients fail if an upgrade moves them.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
import structlog
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    # Imported where a protocol class is made: over stdio the server never needs h11.
    from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "ConnectionLimits", "SessionLimitMiddleware", "max_connections"]

logger = structlog.get_logger()

HEADER_TIMEOUT = 10.0
"""Seconds a connection may wait without a request being served: to send a whole request's
headers once it opens, or the next request's after a response."""
SWEEP_EVERY = 1.0
LOG_EVERY = 60.0
"""Seconds between two log lines about connections or sessions closed to make room."""


def max_connections() -> int:
    """Connections served at once: half the file-descriptor limit (the rest is for the daemon's
    connections, the database and files), between 32 and 1024."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(32, min(1024, soft // 2))


class _RateLimitedLog:
    """A warning at most every `LOG_EVERY` seconds, with the count since the last one."""

    def __init__(self, event: str) -> None:
        self._event = event
        self._count = 0
        self._logged = -LOG_EVERY

    def add(self, **fields: Any) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY:
            logger.warning(self._event, count=self._count, **fields)
            self._count, self._logged = 0, now


@dataclass
class _Connection:
    transport: asyncio.BaseTransport
    idle_since: float | None  # None while a request is being served
    closing: bool = False  # closed by us, its descriptor freed once the loop gets to it


class ConnectionLimits:
    """Tracks the server's connections: closes the slow and the idle, caps how many stay open."""

    def __init__(self, *, limit: int | None = None, header_timeout: float = HEADER_TIMEOUT) -> None:
        self.limit = limit or max_connections()
        self.header_timeout = header_timeout
        self._open: dict[H11Protocol, _Connection] = {}
        self._sweeping: asyncio.TimerHandle | None = None
        self._timed_out = _RateLimitedLog("idle or slow connections closed")
        self._evicted = _RateLimitedLog("connection limit reached: idle connections closed")

    @property
    def open_connections(self) -> int:
        """Connections open now (those being closed aside)."""
        return sum(not connection.closing for connection in self._open.values())

    @property
    def backlog(self) -> int:
        """How many connections to accept in one go (asyncio accepts up to the listen backlog at
        once): a quarter of the limit, so that the descriptors of those closed to make room are
        freed before the limit is passed by much."""
        return max(16, self.limit // 4)

    def protocol(self) -> type[H11Protocol]:
        """The uvicorn HTTP protocol class that reports to these limits."""
        from uvicorn.protocols.http.h11_impl import H11Protocol

        limits = self

        class LimitedH11Protocol(H11Protocol):
            # uvicorn narrows asyncio.Protocol's BaseTransport to Transport; so must this.
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                limits._opened(self, transport)

            def connection_lost(self, exc: Exception | None) -> None:
                limits._open.pop(self, None)
                super().connection_lost(exc)

        return LimitedH11Protocol

    def _opened(self, protocol: H11Protocol, transport: asyncio.BaseTransport) -> None:
        now = time.monotonic()
        self._open[protocol] = _Connection(transport, idle_since=now)
        if self.open_connections > self.limit:
            idle = [
                (c.idle_since, p)
                for p, c in self._open.items()
                if c.idle_since is not None and not c.closing and p is not protocol
            ]
            oldest = min(idle, default=None)
            # Every other connection is serving a request: the newcomer is the one to go.
            self._close(oldest[1] if oldest is not None else protocol)
            self._evicted.add(limit=self.limit)
        if self._sweeping is None:
            self._sweeping = asyncio.get_running_loop().call_later(SWEEP_EVERY, self._sweep)

    def _sweep(self) -> None:
        """Close what has waited too long for a request; note which connections are serving."""
        self._sweeping = None
        now = time.monotonic()
        for protocol, connection in list(self._open.items()):
            if _serving(protocol):
                connection.idle_since = None
            elif connection.idle_since is None:
                connection.idle_since = now
            elif now - connection.idle_since > self.header_timeout and not connection.closing:
                self._close(protocol)
                self._timed_out.add(timeout=self.header_timeout)
        if self._open:
            self._sweeping = asyncio.get_running_loop().call_later(SWEEP_EVERY, self._sweep)

    def _close(self, protocol: H11Protocol) -> None:
        connection = self._open[protocol]
        connection.closing = True
        connection.transport.close()


def _serving(protocol: H11Protocol) -> bool:
    """Whether a request on the connection is being served (its headers arrived, its response
    has not ended): a long stream is never cut for being slow."""
    cycle = protocol.cycle
    return cycle is not None and not cycle.response_complete


@dataclass
class _SseStream:
    closing: anyio.Event = field(default_factory=anyio.Event)
    last_used: float = field(default_factory=time.monotonic)
    session_id: str | None = None


class SessionLimitMiddleware:
    """Keeps at most `limit` sessions: a new one closes the session idle longest first.

    Only a request that passes the token and the DNS-rebinding checks may make room: a page in a
    browser must not be able to close the sessions of the clients it cannot use itself.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        mcp: MCPServer[Any],
        limit: int,
        security: TransportSecuritySettings,
        mcp_path: str,
        sse_path: str,
        messages_path: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._mcp = mcp
        self._limit = limit
        self._mcp_path = mcp_path
        self._sse_path = sse_path
        self._messages_path = messages_path
        self._security = TransportSecurityMiddleware(security)
        self._streams: dict[int, _SseStream] = {}
        self._evicted = _RateLimitedLog("session limit reached: idle sessions closed")
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Make room for a session about to open; keep SSE streams' last use."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == self._mcp_path and method == "POST" and _opens_session(scope):
            if await self._allowed(scope, receive, post=True):
                await self._make_room_for_streamable()
        elif path == self._sse_path and method == "GET":
            if await self._allowed(scope, receive, post=False):
                await self._serve_sse_stream(scope, receive, send)
                return
        elif path == self._messages_path and method == "POST":
            self._touch_sse(scope)
        await self.app(scope, receive, send)

    async def _allowed(self, scope: Scope, receive: Receive, *, post: bool) -> bool:
        """Whether the SDK's Host, Origin (and content type) checks will let the request in."""
        refusal = await self._security.validate_request(Request(scope, receive), is_post=post)
        return refusal is None

    async def _make_room_for_streamable(self) -> None:
        manager = self._mcp.session_manager
        sessions = manager._server_instances
        while len(sessions) >= self._limit:
            idle = [
                (transport.idle_scope.deadline if transport.idle_scope is not None else 0.0, sid)
                for sid, transport in sessions.items()
                if not transport._requests_in_flight
            ]
            if not idle:
                return  # every session is busy: the SDK answers 503 and nothing is lost
            _, oldest = min(idle)
            await manager._discard_session(oldest, sessions[oldest])
            self._evicted.add(limit=self._limit, transport="http")

    async def _serve_sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        while len(self._streams) >= self._limit:
            key = min(self._streams, key=lambda k: self._streams[k].last_used)
            self._streams.pop(key).closing.set()
            self._evicted.add(limit=self._limit, transport="sse")
        stream = _SseStream()
        key = id(stream)
        self._streams[key] = stream

        async def receive_or_close() -> Message:
            """What the client sends; once the stream must close, its disconnection: the SDK
            then ends the session as it does when a client leaves."""
            message: Message = {"type": "http.disconnect"}
            if stream.closing.is_set():
                return message
            async with anyio.create_task_group() as tg:

                async def from_client() -> None:
                    nonlocal message
                    message = await receive()
                    tg.cancel_scope.cancel()

                async def until_closing() -> None:
                    await stream.closing.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(from_client)
                tg.start_soon(until_closing)
            return message

        streaming = False

        async def watch(message: Message) -> None:
            nonlocal streaming
            if stream.closing.is_set():
                return  # the app was told the client left: what it still sends goes nowhere
            if message["type"] == "http.response.body":
                if stream.session_id is None:
                    stream.session_id = _session_in_endpoint_event(message.get("body", b""))
                streaming = message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive_or_close, watch)
            if stream.closing.is_set() and streaming:
                # Closed to make room: end the event stream properly, so the client sees it end
                # rather than a broken connection.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._streams.pop(key, None)

    def _touch_sse(self, scope: Scope) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_id = (query.get("session_id") or [""])[0]
        for stream in self._streams.values():
            if stream.session_id == session_id:
                stream.last_used = self._clock()


def _opens_session(scope: Scope) -> bool:
    """A streamable HTTP request that opens a session: no session id, handshake era."""
    headers = dict(scope["headers"])
    if b"mcp-session-id" in headers:
        return False
    version = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
    return version == "" or version in HANDSHAKE_PROTOCOL_VERSIONS


def _session_in_endpoint_event(body: bytes) -> str | None:
    """The session id in the SSE `endpoint` event (`data: /messages/?session_id=...`)."""
    text = body.decode("utf-8", "replace")
    marker = "session_id="
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split()[0].strip()
