"""The streaming and fault machinery: what a handler returns (`_Json`, `_Plain`, `_Stream`), the
per-request context that writes ASGI messages and sleeps until shutdown, and `_Sender`, the
`_Dispatcher` mixin that sends a result with a fault mode applied (drops, stalls, bad lines).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import Message, Receive, Scope, Send

from tests.fake_daemon.goformat import go_json
from tests.fake_daemon.wire import (
    JSON_CT,
    JSON_PLAIN_CT,
    NDJSON_CT,
    RUNNER_DIED_MESSAGE,
    _AbortError,
)

if TYPE_CHECKING:
    from tests.fake_daemon.state import FakeOllama


@dataclasses.dataclass
class _Json:
    status: int
    payload: Any
    content_type: str = JSON_CT
    raw: str | None = None  # pre-serialised body


@dataclasses.dataclass
class _Plain:
    status: int
    body: bytes
    content_type: str | None


@dataclasses.dataclass
class _StreamError:
    message: str
    status: int = 500


@dataclasses.dataclass
class _Stream:
    items: AsyncIterator[dict[str, Any] | _StreamError]
    streaming_request: bool = True


_Result = _Json | _Plain | _Stream


def _is_final(item: Mapping[str, Any]) -> bool:
    return item.get("done") is True or item.get("status") == "success"


class _Ctx:
    def __init__(
        self, scope: Scope, receive: Receive, send: Send, stop_event: threading.Event
    ) -> None:
        self.scope = scope
        self.receive = receive
        self._send = send
        self.stop_event = stop_event
        self.started = False
        self.complete = False
        self.disconnected = False
        self.drop = False
        self.status = 0

    async def send(self, message: Message) -> None:
        await self._send(message)

    async def start(
        self, status: int, content_type: str | None, content_length: int | None = None
    ) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if content_type is not None:
            headers.append((b"content-type", content_type.encode()))
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode()))
        self.started = True
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, *, more: bool) -> None:
        if not more:
            self.complete = True
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def respond(self, status: int, data: bytes, content_type: str | None) -> None:
        await self.start(status, content_type, len(data))
        await self.body(data, more=False)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until a ``time.monotonic()`` deadline; `_AbortError` when the server stops."""
        while True:
            if self.stop_event.is_set():
                raise _AbortError()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await anyio.sleep(0)
                return
            await anyio.sleep(min(remaining, 0.05))

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(time.monotonic() + seconds)

    async def hang(self) -> None:
        while True:
            await self.sleep(3600)


class _HandlerBase:
    """What every handler mixin of `_Dispatcher` works on: the served state and its stop event."""

    fake: FakeOllama
    stop_event: threading.Event


class _Sender(_HandlerBase):
    """Sending a handler's result: plain, JSON or NDJSON, with the request's fault applied."""

    async def _send_result(self, ctx: _Ctx, result: _Result, fault: str | None) -> None:
        fake = self.fake
        if isinstance(result, _Plain):
            await self._send_plain(ctx, result.status, result.body, result.content_type, fault)
            return
        if isinstance(result, _Json):
            data = (result.raw if result.raw is not None else go_json(result.payload)).encode()
            if fault == "error_line" and result.status < 400:
                message = fake.fault_message or RUNNER_DIED_MESSAGE
                await ctx.respond(500, go_json({"error": message}).encode(), JSON_CT)
                return
            await self._send_plain(ctx, result.status, data, result.content_type, fault)
            return
        await self._pump(ctx, result, fault)

    async def _send_plain(
        self, ctx: _Ctx, status: int, data: bytes, content_type: str | None, fault: str | None
    ) -> None:
        if fault == "drop_mid_stream":
            await ctx.start(status, content_type, len(data) + 16)
            await ctx.body(data[: len(data) // 2], more=True)
            ctx.drop = True
            return
        if fault == "malformed_line" and status < 400 and data:
            data = data[: max(1, len(data) // 2)]
        await ctx.respond(status, data, content_type)

    async def _pump(self, ctx: _Ctx, stream: _Stream, fault: str | None) -> None:
        fake = self.fake
        sent = 0
        injected = False
        items = stream.items
        try:
            async for item in items:
                if isinstance(item, _StreamError):
                    if not ctx.started:
                        data = go_json({"error": item.message}).encode()
                        await ctx.respond(item.status, data, JSON_PLAIN_CT)
                        return
                    await ctx.body((go_json({"error": item.message}) + "\n").encode(), more=True)
                    break
                if not ctx.started:
                    await ctx.start(200, NDJSON_CT)
                final = _is_final(item)
                if (
                    fault is not None
                    and not injected
                    and (sent >= max(1, fake.fault_after_chunks) or (final and sent >= 1))
                ):
                    if fault == "drop_mid_stream":
                        ctx.drop = True
                        return
                    if fault == "error_line":
                        message = fake.fault_message or RUNNER_DIED_MESSAGE
                        await ctx.body((go_json({"error": message}) + "\n").encode(), more=True)
                        break
                    if fault == "malformed_line":
                        injected = True
                        await ctx.body(b'{"model":"oops","created_at":not-json\n', more=True)
                if fault == "drop_mid_stream" and final and sent == 0:
                    ctx.drop = True
                    return
                await ctx.body((go_json(item) + "\n").encode(), more=True)
                sent += 1
                if fault == "slow" and not injected:
                    injected = True
                    await ctx.sleep(fake.stall_seconds)
            if not ctx.started:
                await ctx.start(200, NDJSON_CT)
            await ctx.body(b"", more=False)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
