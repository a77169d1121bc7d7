"""One server state per process, shared by every connection that overlaps it.

The SDK runs a server's lifespan once per connection on stdio, in memory and under SSE (the
streamable HTTP manager runs it once for the whole app). A state per SSE connection would mean a
daemon manager, session locks and a benchmark lock per client: one client leaving would stop the
daemon another is generating on. So an HTTP app holds the state open for its whole life
(`hold_state`), and every connection's lifespan then uses that one; a connection that finds none
held (stdio, in memory) opens its own.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from mcp.server import MCPServer

from mcp_ollama.server._common import AppState

__all__ = ["SharedState", "hold_state"]

OpenState = Callable[[], AbstractAsyncContextManager[AppState]]


class SharedState:
    """Opens the server's state, and hands a held one to every connection while it is held."""

    def __init__(self, open_state: OpenState) -> None:
        self._open = open_state
        self._held: AppState | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[AppState]:
        """Open the state for as long as this block runs; connections meanwhile share it."""
        async with self._open() as state:
            self._held = state
            try:
                yield state
            finally:
                self._held = None

    @asynccontextmanager
    async def connection(self, _server: MCPServer[Any]) -> AsyncIterator[AppState]:
        """A connection's lifespan: the held state if there is one, else a state of its own."""
        if self._held is not None:
            yield self._held
            return
        async with self._open() as state:
            yield state

    def register(self, mcp: MCPServer[Any]) -> None:
        """Make `hold_state(mcp)` hold this state."""
        _SHARED[mcp] = self


_SHARED: weakref.WeakKeyDictionary[MCPServer[Any], SharedState] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def hold_state(mcp: MCPServer[Any]) -> AsyncIterator[None]:
    """Hold the state of a server `build_server` made (nothing for any other server)."""
    shared = _SHARED.get(mcp)
    async with shared.hold() if shared is not None else nullcontext():
        yield
