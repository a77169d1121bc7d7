"""Serving over stdio, where every request gets an answer, even one that cannot be read.

The SDK's stdio reader drops a line it cannot validate (it logs it and moves on), so a client
whose request held, say, a lone surrogate escape (`"a\\ud83d"`, what a JavaScript client sends
when it cuts a string inside an emoji) waits for an answer forever. Here such a line is answered
with a JSON-RPC error instead: a parse error (-32700) for text that is not valid JSON, an invalid
request (-32600) for JSON that is not a JSON-RPC message, carrying the request's id whenever the
line shows one, so the client's call ends. Over HTTP the same body gets a 400.

At a signal, the requests still waiting for their answer (`Outstanding`) get them written before
the input ends: every call in flight answers "shutting down", not only the first.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import structlog
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)
from pydantic import ValidationError

__all__ = ["Outstanding", "malformed_message_error", "serve_stdio"]

logger = structlog.get_logger()

MAX_DETAIL_CHARS = 200


class Outstanding:
    """The requests read from stdin that have no answer on stdout yet.

    At a signal every call in flight is cancelled and answers; ending the input right away
    would close the session before those answers are written. `drained` waits for them.
    """

    def __init__(self) -> None:
        self._ids: set[RequestId] = set()
        self._changed = anyio.Event()

    def received(self, message: SessionMessage) -> None:
        """Note a request read from the client."""
        if isinstance(message.message, JSONRPCRequest):
            self._ids.add(message.message.id)

    def answered(self, message: SessionMessage) -> None:
        """Note an answer written to the client."""
        if isinstance(message.message, JSONRPCResponse | JSONRPCError):
            self._ids.discard(message.message.id)
            self._changed.set()
            self._changed = anyio.Event()

    async def drained(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until every request read so far has its answer."""
        with anyio.move_on_after(timeout):
            while self._ids:
                await self._changed.wait()


async def serve_stdio(mcp: MCPServer[Any], outstanding: Outstanding | None = None) -> None:
    """`mcp.run_stdio_async()`, answering every unreadable line with a JSON-RPC error, and
    keeping `outstanding` up to date."""
    server = mcp._lowlevel_server  # what run_stdio_async() runs; it offers no hook for this
    tracked = outstanding or Outstanding()
    async with stdio_server() as (read_stream, write_stream):
        readable_send, readable = anyio.create_memory_object_stream[SessionMessage | Exception]()
        writable, to_write = anyio.create_memory_object_stream[SessionMessage]()

        async def answer_malformed() -> None:
            async with readable_send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        error = malformed_message_error(item)
                        logger.warning(
                            "unreadable message answered with an error",
                            request_id=error.id,
                            code=error.error.code,
                        )
                        await write_stream.send(SessionMessage(error))
                    else:
                        tracked.received(item)
                        await readable_send.send(item)

        async def write_answers() -> None:
            async with to_write:
                async for message in to_write:
                    await write_stream.send(message)
                    tracked.answered(message)

        async with anyio.create_task_group() as reading:
            reading.start_soon(answer_malformed)
            async with anyio.create_task_group() as writing:
                writing.start_soon(write_answers)  # until the server closes `writable`
                async with writable:
                    await server.run(readable, writable, server.create_initialization_options())
            reading.cancel_scope.cancel()  # the server is done: nothing more to read
        await write_stream.aclose()  # the SDK's writer ends once everything is written


def malformed_message_error(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering a line the SDK could not read as a message.

    >>> from mcp.types import jsonrpc_message_adapter
    >>> line = '{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"a": "a\\\\ud83d"}}'
    >>> try:
    ...     jsonrpc_message_adapter.validate_json(line)
    ... except ValidationError as exc:
    ...     error = malformed_message_error(exc)
    >>> error.id, error.error.code
    (7, -32700)
    """
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    if errors and errors[0]["type"] == "json_invalid":
        code, what = PARSE_ERROR, "Parse error: the message is not valid JSON"
        raw = errors[0].get("input")
        request_id = _request_id(raw if isinstance(raw, str) else None)
    else:
        code, what = INVALID_REQUEST, "Invalid request: the message is not a JSON-RPC message"
        inputs = [e.get("input") for e in errors]
        request_id = next((_id_of(i) for i in inputs if _id_of(i) is not None), None)
    detail = errors[0]["msg"] if errors else str(exc)
    message = f"{what} ({detail[:MAX_DETAIL_CHARS]}); fix the message and send it again"
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _request_id(raw: str | None) -> int | str | None:
    """The id of a line that Python's more lenient JSON parser can still read (it accepts lone
    surrogates, which the SDK's parser refuses), else None."""
    if raw is None:
        return None
    try:
        return _id_of(json.loads(raw))
    except (ValueError, RecursionError):
        return None


def _id_of(value: Any) -> int | str | None:
    """A JSON-RPC id as the error may echo it: an integer or a string, never a bool."""
    request_id = value.get("id") if isinstance(value, dict) else None
    if isinstance(request_id, str) or (
        isinstance(request_id, int) and not isinstance(request_id, bool)
    ):
        return request_id
    return None
