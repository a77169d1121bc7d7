"""The ASGI endpoint behind every path: `_Dispatcher` records the request, applies Ollama's
host check, Gin's 404/405 answers and the fault mode, routes to the handler mixins, notices
client disconnects and logs like Gin.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import Receive, Scope, Send

from tests.fake_daemon.generation import _GenerationHandlers
from tests.fake_daemon.goformat import go_json, go_quote
from tests.fake_daemon.management import _ModelHandlers
from tests.fake_daemon.records import RecordedRequest
from tests.fake_daemon.streaming import _Ctx, _Json, _Plain, _Result, _Sender
from tests.fake_daemon.wire import (
    BUSY_MESSAGE,
    GIN_TEXT_CT,
    JSON_CT,
    JSON_PLAIN_CT,
    RUNNER_DIED_MESSAGE,
    TEXT_CT,
    _AbortError,
    _ApiError,
    _DropConnectionError,
    _log,
)

if TYPE_CHECKING:
    from tests.fake_daemon.state import FakeOllama


_ROUTES: dict[str, frozenset[str]] = {
    "/": frozenset({"GET", "HEAD"}),
    "/api/version": frozenset({"GET", "HEAD"}),
    "/api/status": frozenset({"GET"}),
    "/api/tags": frozenset({"GET", "HEAD"}),
    "/api/ps": frozenset({"GET"}),
    "/api/show": frozenset({"POST"}),
    "/api/generate": frozenset({"POST"}),
    "/api/chat": frozenset({"POST"}),
    "/api/embed": frozenset({"POST"}),
    "/api/embeddings": frozenset({"POST"}),
    "/api/pull": frozenset({"POST"}),
    "/api/create": frozenset({"POST"}),
    "/api/copy": frozenset({"POST"}),
    "/api/delete": frozenset({"DELETE"}),
    "/api/blobs/:digest": frozenset({"HEAD", "POST"}),
}

_STREAMING_PATHS = frozenset({"/api/generate", "/api/chat", "/api/pull", "/api/create"})

_PRIVATE_HOST_RE = re.compile(
    r"^(localhost|.*\.localhost|.*\.local|.*\.internal|127\.\d+\.\d+\.\d+|10\.\d+\.\d+\.\d+|"
    r"192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|::1|0\.0\.0\.0)$"
)


class _Dispatcher(_GenerationHandlers, _ModelHandlers, _Sender):
    """The ASGI endpoint behind every path (Gin-style 404/405 handling included)."""

    def __init__(self, fake: FakeOllama, stop_event: threading.Event) -> None:
        self.fake = fake
        self.stop_event = stop_event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        started = time.monotonic()
        body, gone = await _read_body(receive)
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        parsed: Any = None
        if body.strip():
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        fake = self.fake
        fake.requests.append(
            RecordedRequest(
                method=method,
                path=path,
                body=parsed,
                headers=headers,
                raw_body=body,
                query=scope.get("query_string", b"").decode("latin-1"),
                time=time.time(),
            )
        )
        ctx = _Ctx(scope, receive, send, self.stop_event)
        if gone:
            fake._record_disconnect(path)
            return
        with fake._lock:
            fake.active_requests += 1
            fake.peak_active_requests = max(fake.peak_active_requests, fake.active_requests)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_disconnect, ctx, tg.cancel_scope, path)
                try:
                    await self._handle(ctx, method, path, body, headers)
                except _AbortError:
                    ctx.drop = True
                except Exception as exc:  # a bug in the fake: make it visible, not a hang
                    _log.exception("fake ollama handler failed")
                    if not ctx.started:
                        message = go_json({"error": f"fake ollama internal error: {exc!r}"})
                        await ctx.respond(500, message.encode(), JSON_CT)
                    else:
                        ctx.drop = True
                finally:
                    tg.cancel_scope.cancel()
        finally:
            with fake._lock:
                fake.active_requests -= 1
            if fake.log_requests:
                _gin_log(ctx.status, time.monotonic() - started, scope, method, path)
        if ctx.drop and not ctx.disconnected:
            if not ctx.started:
                # uvicorn answers an app that fails before its response starts with a 500 of its
                # own; a daemon that dies just closes the connection, so start one to cut.
                await ctx.start(200, None)
            raise _DropConnectionError()

    async def _watch_disconnect(self, ctx: _Ctx, scope: anyio.CancelScope, path: str) -> None:
        while True:
            message = await ctx.receive()
            if message["type"] == "http.disconnect":
                if not ctx.complete:
                    ctx.disconnected = True
                    self.fake._record_disconnect(path)
                    scope.cancel()
                return

    async def _handle(
        self, ctx: _Ctx, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> None:
        fake = self.fake
        if fake.check_host and not _host_allowed(headers.get("host", "")):
            await ctx.respond(403, b"", None)
            return
        route = "/api/blobs/:digest" if path.startswith("/api/blobs/") else path
        methods = _ROUTES.get(route)
        if methods is None:
            await ctx.respond(404, b"404 page not found", GIN_TEXT_CT)
            return
        if method not in methods:
            await ctx.respond(405, b"405 method not allowed", GIN_TEXT_CT)
            return

        fault = fake._take_fault(path)
        streaming_request = path in _STREAMING_PATHS and not _explicit_no_stream(body)
        if fault == "http_500":
            message = fake.fault_message or RUNNER_DIED_MESSAGE
            content_type = JSON_PLAIN_CT if streaming_request else JSON_CT
            await ctx.respond(500, go_json({"error": message}).encode(), content_type)
            return
        if fault == "http_503":
            await ctx.respond(503, go_json({"error": BUSY_MESSAGE}).encode(), JSON_CT)
            return
        if fault == "slow" and not streaming_request:
            await ctx.sleep(fake.stall_seconds)

        try:
            result = await self._route(ctx, method, route, path, body)
        except _ApiError as err:
            result = _Json(err.status, {"error": err.message}, err.content_type)
        await self._send_result(ctx, result, fault)

    async def _route(self, ctx: _Ctx, method: str, route: str, path: str, body: bytes) -> _Result:
        fake = self.fake
        if route == "/":
            return _Plain(200, b"Ollama is running", TEXT_CT)
        if route == "/api/version":
            return _Json(200, {"version": fake.version})
        if route == "/api/status":
            return _Json(200, {"cloud": {"disabled": False, "source": "none"}})
        if route == "/api/tags":
            return _Json(200, {"models": [fake._tags_entry(m) for m in fake.models]})
        if route == "/api/ps":
            return _Json(200, fake._ps())
        if route == "/api/show":
            return self._handle_show(body)
        if route == "/api/generate":
            return await self._handle_generate(ctx, body)
        if route == "/api/chat":
            return await self._handle_chat(ctx, body)
        if route == "/api/embed":
            return await self._handle_embed(ctx, body)
        if route == "/api/embeddings":
            return await self._handle_embeddings(ctx, body)
        if route == "/api/pull":
            return await self._handle_pull(ctx, body)
        if route == "/api/create":
            return await self._handle_create(ctx, body)
        if route == "/api/copy":
            return self._handle_copy(body)
        if route == "/api/delete":
            return self._handle_delete(body)
        if route == "/api/blobs/:digest":
            return self._handle_blob(method, path, body)
        raise AssertionError(route)


def _explicit_no_stream(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("stream") is False


def _host_allowed(host_header: str) -> bool:
    host = host_header.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    return bool(_PRIVATE_HOST_RE.match(host)) or host == socket.gethostname().lower()


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _gin_log(status: int, elapsed: float, scope: Scope, method: str, path: str) -> None:
    client = scope.get("client") or ("", 0)
    stamp = time.strftime("%Y/%m/%d - %H:%M:%S")
    line = (
        f"[GIN] {stamp} | {status:3d} | {_go_duration_short(elapsed):>13} | "
        f"{client[0]:>15} | {method:<7} {go_quote(path)}"
    )
    print(line, file=sys.stderr, flush=True)


def _go_duration_short(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.6f}ms"
    return f"{seconds:.6f}s"
