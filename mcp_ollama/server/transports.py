"""Serving the MCP server over stdio, streamable HTTP (/mcp) and SSE (/sse + /messages/).

HTTP transports are safe by default: they bind 127.0.0.1, reject foreign `Host` (421) and
`Origin` (403) headers against DNS rebinding, cap request bodies, connections and sessions (see
`server.http_limits`), and with `auth_token` set
answer 401 to any request without `Authorization: Bearer <token>` (compared in constant time).
Binding beyond loopback without a token is refused at start.
`/health` is always open and says only that the server is up, and its version.

This module serves; the checks themselves live in `server.http_security`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, NoReturn

import anyio
import structlog
import uvicorn
from anyio.abc import TaskStatus
from mcp.server import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from mcp_ollama import __version__
from mcp_ollama.server._common import cancel_calls_in_flight
from mcp_ollama.server.http_security import (
    BearerTokenMiddleware,
    HostSyntaxMiddleware,
    check_bind,
    transport_security,
)
from mcp_ollama.server.shared_state import hold_state
from mcp_ollama.server.stdio import Outstanding, serve_stdio
from mcp_ollama.settings import Settings

__all__ = [
    "HEALTH_PATH",
    "MCP_PATH",
    "SSE_PATH",
    "exit_process",
    "http_app",
    "serve",
]

logger = structlog.get_logger()

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages/"
HEALTH_PATH = "/health"
SHUTDOWN_GRACE = 1
"""Seconds HTTP requests in flight get to finish after SIGTERM/SIGINT before they are cancelled."""
SHUTDOWN_TIMEOUT = 8.0
"""Seconds a clean stop may take after a signal before the process ends regardless."""


async def _health(_: Request) -> Response:
    """Liveness for load balancers and scripts; never says anything about the configuration."""
    return JSONResponse({"status": "ok", "name": "mcp-ollama", "version": __version__})


def http_app(mcp: MCPServer[Any], settings: Settings) -> Starlette:
    """The ASGI app for the configured HTTP transport (`sse`, else streamable HTTP)."""
    # Imported here and in `uvicorn_config`: a stdio server, the usual case, never needs it.
    from mcp_ollama.server.http_limits import SessionLimitMiddleware

    security = transport_security(settings)
    if settings.transport == "sse":
        app = mcp.sse_app(
            sse_path=SSE_PATH,
            message_path=MESSAGES_PATH,
            transport_security=security,
            max_request_body_size=settings.max_body_bytes,
        )
        # The SDK opens a lifespan per SSE connection: the app holds one state for them all.
        app.router.lifespan_context = lambda _app: hold_state(mcp)
    else:
        app = mcp.streamable_http_app(
            streamable_http_path=MCP_PATH,
            # Progress notifications need a streamed response: a JSON body would drop them.
            json_response=False,
            transport_security=security,
            max_request_body_size=settings.max_body_bytes,
        )
    app.add_route(HEALTH_PATH, _health, methods=["GET"])
    # Innermost: only a request that passed the checks below may close an idle session.
    app.add_middleware(
        SessionLimitMiddleware,
        mcp=mcp,
        limit=settings.max_http_sessions,
        security=security,
        mcp_path=MCP_PATH,
        sse_path=SSE_PATH,
        messages_path=MESSAGES_PATH,
    )
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
    """Uvicorn settings: our stderr logging (never uvicorn's stdout handlers), app lifespan on,
    idle and slow-header connections closed and their number capped."""
    from mcp_ollama.server.http_limits import ConnectionLimits

    limits = ConnectionLimits()
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
        http=limits.protocol(),
        backlog=limits.backlog,
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
                outstanding = Outstanding()

                async def stop_stdio() -> None:
                    await cancel_calls_in_flight(SHUTDOWN_GRACE)
                    # Their answers reach stdout before the input ends, as if the client had
                    # closed stdin: the SDK then closes the session and the lifespan.
                    await outstanding.drained(SHUTDOWN_GRACE)
                    end_input()

                await tg.start(_stop_on_signals, stop_stdio, stopped_by)
                try:
                    await serve_stdio(mcp, outstanding)
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

            await tg.start(_stop_on_signals, stop_http, stopped_by)
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
    stop: Callable[[], Coroutine[Any, Any, None]],
    stopped_by: list[int],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """On the first SIGTERM/SIGINT start `stop` and arm a watchdog; on a second, exit now.

    Reports started once the signals are taken over, and the transport starts only then: a
    signal in between would otherwise end the process with the stdin reader thread blocked,
    and the interpreter would wait for that thread forever.
    """
    if sys.platform == "win32":  # no loop signal handlers there: Ctrl+C still stops the server
        task_status.started()
        return
    watchdog = threading.Timer(SHUTDOWN_TIMEOUT, _stop_took_too_long)
    watchdog.daemon = True
    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
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
