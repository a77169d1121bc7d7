"""What every part of the fake shares about the wire: the version it claims, content types,
Ollama's exact error messages, the fault-mode names, and the exceptions a handler raises to
answer with an error or to make uvicorn drop the connection (whose log noise is filtered).
"""

from __future__ import annotations

import logging
from typing import Literal

OLLAMA_VERSION = "0.12.3"

FaultMode = Literal[
    "http_500", "http_503", "drop_mid_stream", "slow", "malformed_line", "error_line"
]
FAULT_MODES: tuple[str, ...] = (
    "http_500",
    "http_503",
    "drop_mid_stream",
    "slow",
    "malformed_line",
    "error_line",
)

JSON_CT = "application/json; charset=utf-8"
JSON_PLAIN_CT = "application/json"
NDJSON_CT = "application/x-ndjson"
TEXT_CT = "text/plain; charset=utf-8"
GIN_TEXT_CT = "text/plain"

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_DIED_MESSAGE = "llama runner process has terminated: exit status 2"
PULL_MISSING_MESSAGE = "pull model manifest: file does not exist"
THINK_LEVELS = ("high", "medium", "low", "max")
# Go saturates time.Now().Add(math.MaxInt64) for "keep forever".
_FOREVER_NS = 9_223_372_036_854_775_807

_log = logging.getLogger("tests.fake_ollama")


class _ApiError(Exception):
    def __init__(self, status: int, message: str, content_type: str = JSON_CT) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type


class _AbortError(Exception):
    """The server is shutting down: abandon the request and drop the connection."""


class _DropConnectionError(Exception):
    """Raised out of the ASGI app to make uvicorn close the transport mid-response."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not _contains_drop(exc)


def _contains_drop(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    if isinstance(exc, _DropConnectionError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_contains_drop(inner) for inner in exc.exceptions)
    return False


def _install_log_filter() -> None:
    error_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in error_logger.filters):
        error_logger.addFilter(_DropFilter())


_install_log_filter()
