"""Log messages to clients: the server's own events (the daemon started, a host is down, a model
was pulled, a retry, the CLI fallback used, ...) at or above the level a client asked for.

- Handshake era: `logging/setLevel` sets the connection's level (until then, warning and above).
  An event during one of the connection's requests travels with that request; any other event
  (another client's request, background work) on the connection's own stream.
- 2026-07-28 (no `logging/setLevel`): a request opts in through `_meta` (the SDK client's
  `log_level=`) and receives the events that happen while it runs, before its result.

What a client gets is the event as the stderr log has it after redaction (secrets are `***`,
prompts and answers only their size), with credentials in URLs removed and no traceback.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, get_args

import anyio
import anyio.from_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.connection import Connection, allowed_log_levels
from mcp.server.context import CallNext, HandlerResult
from mcp.types import (
    EmptyResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    SetLevelRequestParams,
)

from mcp_ollama.log import listen_to_logs
from mcp_ollama.server.clients import SEND_TIMEOUT, Clients, send_bounded

__all__ = ["ClientLog", "client_data"]

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # least severe first
LOGGER = "mcp-ollama"
# Requests during which the server does work worth reporting (the daemon, the disk).
WORKING = frozenset({"tools/call", "resources/read", "prompts/get"})
NOT_FOR_CLIENTS = frozenset(
    {"level", "timestamp", "exc_info", "stack_info", "exception", "_record", "_from_structlog"}
)
_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")
BUFFERED = 100  # log messages waiting for one request's stream; more are dropped

Record = tuple[LoggingLevel, dict[str, Any]]


def client_data(event: Mapping[str, Any]) -> dict[str, Any]:
    """A log event as a client may see it: JSON values, no traceback, no URL credentials.

    >>> client_data({'event': 'daemon ready', 'url': 'http://u:pw@host:1', 'pid': 7,
    ...              'level': 'info', 'exc_info': True})
    {'event': 'daemon ready', 'url': 'http://***@host:1', 'pid': 7}
    """
    data: dict[str, Any] = {}
    for key, value in event.items():
        if key in NOT_FOR_CLIENTS:
            continue
        plain = value is None or isinstance(value, bool | int | float)
        data[key] = value if plain else _CREDENTIALS.sub(r"\1***@", str(value))
    return data


def at_or_above(level: LoggingLevel) -> frozenset[LoggingLevel]:
    """The levels a client that asked for `level` gets."""
    return frozenset(LEVELS[LEVELS.index(level) :])


class _Request:
    """The request being served, for the events that happen while it runs: they travel on its
    stream, sent by a forwarder started with the first of them (most calls log nothing)."""

    def __init__(
        self,
        owner: ClientLog,
        ctx: ServerRequestContext[Any, Any],
        connection: Connection | None,
        levels: frozenset[LoggingLevel],
    ) -> None:
        self.owner = owner
        self.ctx = ctx
        self.connection = connection  # its handshake-era connection (None on 2026-07-28)
        self.levels = levels
        self.thread = threading.get_ident()
        self.send: MemoryObjectSendStream[Record] | None = None
        self.forwarded = anyio.Event()
        # Background work started during the request inherits it (context variables are
        # copied into new tasks) and may log after it ended: that goes to the connection.
        self.done = False

    def put(self, record: Record) -> None:
        """Queue a log message for the request's stream (from any thread)."""
        try:
            if threading.get_ident() == self.thread:
                self._put(record)
            else:
                anyio.from_thread.run_sync(self._put, record)
        except RuntimeError:
            pass  # a thread anyio did not start cannot reach the loop

    def _put(self, record: Record) -> None:
        if self.done:
            return
        if self.send is None:
            self.send, receive = anyio.create_memory_object_stream[Record](BUFFERED)
            # The forwarder runs in the server's background, not in a task group of this
            # request: that would wrap the request's own errors in an exception group.
            if not self.owner.clients.spawn(partial(self._forward, receive)):
                receive.close()
                self.forwarded.set()
        # A client that reads slowly, or a request that ended: the message is dropped.
        with contextlib.suppress(
            anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError
        ):
            self.send.send_nowait(record)

    async def finish(self) -> None:
        """Send what is queued before the result goes out (bounded: a stuck client is left)."""
        self.done = True
        if self.send is None:
            return
        self.send.close()
        with anyio.move_on_after(SEND_TIMEOUT):
            await self.forwarded.wait()

    async def _forward(self, receive: MemoryObjectReceiveStream[Record]) -> None:
        try:
            async with receive:
                async for level, data in receive:
                    params = LoggingMessageNotificationParams(level=level, data=data, logger=LOGGER)
                    await self.ctx.session.send_notification(
                        LoggingMessageNotification(params=params),
                        related_request_id=self.ctx.request_id,
                    )
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client is gone
        finally:
            self.forwarded.set()


_CURRENT: ContextVar[_Request | None] = ContextVar("mcp_ollama_client_log", default=None)


class ClientLog:
    """Passes the server's log events on to the clients that asked for them."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._users = 0
        self._stop: Callable[[], None] = lambda: None

    def install(self, mcp: MCPServer[Any]) -> None:
        """Serve `logging/setLevel` (which advertises the capability) and watch every request."""
        # The SDK's documented way to serve a method MCPServer has no decorator for.
        lowlevel = mcp._lowlevel_server
        lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, self._set_level)
        mcp.middleware.append(self._around_request)

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Listen to the log while any server state is open."""
        if self._users == 0:
            self._stop = listen_to_logs(self.on_log)
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                self._stop()

    def on_log(self, level: str, event: Mapping[str, Any]) -> None:
        """A log listener (called in any thread): send the event to every client whose level
        admits it, on the request it happened in or on the connection's own stream."""
        mcp_level: LoggingLevel = next((lv for lv in LEVELS if lv == level), "info")
        record: Record = (mcp_level, client_data(event))
        current = _CURRENT.get()
        requester = None
        if current is not None and current.owner is self and not current.done:
            requester = current.connection
            if mcp_level in current.levels:
                current.put(record)
        if self.clients.peers:
            self.clients.spawn(partial(self._broadcast, record, requester))

    async def _broadcast(self, record: Record, requester: Connection | None) -> None:
        """To every other handshake-era connection whose level admits it (in the loop, where
        the connections are tracked)."""
        level, data = record
        params = {"level": level, "logger": LOGGER, "data": data}
        for peer in list(self.clients.peers.values()):
            if peer.connection is not requester and level in at_or_above(peer.level):
                await send_bounded(partial(peer.connection.notify, "notifications/message", params))

    async def _around_request(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        peer = self.clients.peer(ctx)  # every handshake-era connection is known from its start
        if ctx.request_id is None or ctx.method not in WORKING:
            return await call_next(ctx)
        if peer is None:
            levels = allowed_log_levels(ctx.protocol_version, ctx.meta)
        else:
            levels = at_or_above(peer.level)
        if not levels:
            return await call_next(ctx)
        request = _Request(self, ctx, peer.connection if peer else None, levels)
        token = _CURRENT.set(request)
        try:
            return await call_next(ctx)
        finally:
            _CURRENT.reset(token)
            await request.finish()

    async def _set_level(
        self, ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        peer = self.clients.peer(ctx)
        if peer is not None:
            peer.level = params.level
        return EmptyResult()
