"""The server's side of its clients, for what it sends them unasked (resource updates, logs).

- Each handshake-era connection (protocol 2025-11-25 and older) is a `Peer`: the resources it
  subscribed to and the log level it set. A peer is forgotten when its connection closes.
  2026-07-28 clients keep nothing here: they subscribe with `subscriptions/listen`, which the
  SDK serves from `bus`, and opt in to log messages request by request.
- Work that sends notifications runs in the background of an open server state (`spawn`), so
  the operation that caused it never waits for a slow client; `spawn` may be called from any
  thread (the report store saves in worker threads).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.from_thread
from anyio.abc import TaskGroup
from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.mcpserver import Context
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import LoggingLevel
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_ollama.server._common import AppState

__all__ = ["SEND_TIMEOUT", "Clients", "Peer", "can_ask", "send_bounded"]

LEGACY_LOG_LEVEL: LoggingLevel = "warning"
"""What a handshake-era client gets before it calls logging/setLevel: what needs attention."""
SEND_TIMEOUT = 5.0
"""Seconds one client may take to accept a notification before it is skipped."""


def can_ask(ctx: Context[Any, Any]) -> bool:
    """Whether the client can put a form question to its user (form elicitation)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (from before modes existed) means forms.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def is_modern(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the request came over the 2026-07-28 protocol (no handshake, no sessions)."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


@dataclass(eq=False)
class Peer:
    """One handshake-era connection: its resource subscriptions and its log level."""

    connection: Connection
    subscriptions: set[str] = field(default_factory=set)
    level: LoggingLevel = LEGACY_LOG_LEVEL


class Clients:
    """The handshake-era connections, the 2026-07-28 event bus, and the open server states."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.peers: dict[Connection, Peer] = {}
        self._open: list[tuple[AppState, TaskGroup]] = []
        self._loop_thread: int | None = None

    def peer(self, ctx: ServerRequestContext[Any, Any]) -> Peer | None:
        """The handshake-era connection a request came on (None for 2026-07-28 requests)."""
        if is_modern(ctx):
            return None
        # The SDK keeps a request's connection (with its per-connection teardown) on the
        # session only; `ServerRequestContext` has no public accessor for it in 2.3.
        connection: Connection = ctx.session._connection
        peer = self.peers.get(connection)
        if peer is None:
            peer = self.peers[connection] = Peer(connection)
            connection.exit_stack.callback(self.peers.pop, connection, None)
        return peer

    @asynccontextmanager
    async def attached(self, state: AppState, background: TaskGroup) -> AsyncIterator[None]:
        """While an open server state lasts: its background runs notification work."""
        self._loop_thread = threading.get_ident()
        entry = (state, background)
        self._open.append(entry)
        try:
            yield
        finally:
            self._open.remove(entry)

    @property
    def state(self) -> AppState | None:
        """The newest open server state (static resources get no request context)."""
        return self._open[-1][0] if self._open else None

    def spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run `work()` in the background of the newest open state; False when it cannot run
        (no state is open: nobody is connected to tell)."""
        if not self._open:
            return False
        start = self._open[-1][1].start_soon
        if threading.get_ident() == self._loop_thread:
            start(work)
            return True
        try:
            anyio.from_thread.run_sync(start, work)
        except RuntimeError:  # a thread anyio did not start cannot reach the loop
            return False
        return True


async def send_bounded(send: Callable[[], Awaitable[None]]) -> None:
    """Send one notification, giving up on a client that does not take it in time."""
    with anyio.move_on_after(SEND_TIMEOUT):
        await send()
