"""Logging: structlog and the stdlib, both to stderr (stdout carries JSON-RPC under stdio).

Front ends may also listen to the server's own events (`listen_to_logs`): the MCP server passes
them on to clients that asked for log messages. A listener sees an event after secrets and
prompt-like values were redacted, whatever level stderr is set to.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Protocol

import structlog

__all__ = ["LogListener", "LogStream", "configure_logging", "listen_to_logs", "redact_secrets"]

LogListener = Callable[[str, Mapping[str, Any]], None]
"""Called with an event's level name (`info`, `warning`, ...) and its (redacted) fields."""
_LISTENERS: dict[object, LogListener] = {}

SECRET_KEYS = frozenset(
    {"authorization", "api_key", "auth_token", "token", "password", "secret", "headers", "cookie"}
)
SECRET_SUFFIXES = ("_token", "_key", "_secret", "_password", "_authorization")
# Prompts and answers stay on this machine's screen, never in a log file, at any level: a log
# line that carried one by mistake shows only its size.
PRIVATE_KEYS = frozenset(
    {"prompt", "prompts", "messages", "system", "suffix", "content", "text", "response",
     "answer", "thinking", "images", "input"}
)  # fmt: skip


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: secret-looking values become `***`, prompt-like ones their size."""
    for key in event_dict:
        value = event_dict[key]
        lowered = key.lower()
        if value is None:
            continue
        if lowered in SECRET_KEYS or lowered.endswith(SECRET_SUFFIXES):
            event_dict[key] = "***"
        elif lowered in PRIVATE_KEYS:
            size = f"{len(value)} chars" if isinstance(value, str) else type(value).__name__
            event_dict[key] = f"<not logged: {size}>"
    return event_dict


def _tell_listeners(
    _logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: hand the (redacted) event to every log listener."""
    if _LISTENERS:
        level = {"exception": "error", "warn": "warning", "fatal": "critical"}.get(method, method)
        for listener in list(_LISTENERS.values()):
            listener(level, dict(event_dict))
    return event_dict


def _below(level: str) -> structlog.typing.Processor:
    """A structlog processor dropping events below `level` (after the listeners saw them)."""
    threshold = logging.getLevelNamesMapping()[level]

    def drop(
        _logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = {"exception": "ERROR", "warn": "WARNING"}.get(method, method.upper())
        if logging.getLevelNamesMapping().get(name, logging.INFO) < threshold:
            raise structlog.DropEvent
        return event_dict

    return drop


def listen_to_logs(listener: LogListener) -> Callable[[], None]:
    """Call `listener(level, event)` for every structlog event from now on, at every level,
    with secrets and prompts already redacted; returns the function that stops it.

    Works whether or not `configure_logging` ran (a library use, the tests): then the listener
    step is put in front of structlog's current processors.
    """
    processors = list(structlog.get_config()["processors"])
    if _tell_listeners not in processors:
        structlog.configure(processors=[redact_secrets, _tell_listeners, *processors])
    token = object()
    _LISTENERS[token] = listener

    def stop() -> None:
        _LISTENERS.pop(token, None)

    return stop


class LogStream(Protocol):
    """Where log lines go: stderr, or a wrapper that keeps them off a progress bar's line."""

    def write(self, text: str, /) -> int:
        """Write text."""
        ...

    def flush(self) -> None:
        """Flush what was written."""
        ...

    def isatty(self) -> bool:
        """Whether a person is looking (colours, and plain text rather than JSON)."""
        ...


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: LogStream | None = None
) -> None:
    """Send log lines at `level` and above to stderr (or `stream`) in one format, ours and the
    stdlib's (the SDK, uvicorn) alike: JSON with one line per event unless stderr is a terminal,
    exceptions as a field; colours only on a terminal and never with `NO_COLOR` set."""
    out: LogStream = stream if stream is not None else sys.stderr
    use_json = (not out.isatty()) if json is None else json
    render = _render_chain(use_json, colors=out.isatty() and not os.environ.get("NO_COLOR"))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *_SHARED,
            # Listeners (clients that asked for log messages) choose their own level.
            _tell_listeners,
            _below(level),
            *render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]  # it only writes and flushes
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_SHARED],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would otherwise go to stdout.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx2").setLevel(logging.WARNING)


_SHARED: list[structlog.typing.Processor] = [
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso"),
    redact_secrets,
]


def _render_chain(use_json: bool, *, colors: bool) -> list[structlog.typing.Processor]:
    if use_json:
        # An exception is a field of its event's one line; no locals: they can hold prompts.
        return [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ]
    return [structlog.dev.ConsoleRenderer(colors=colors)]
