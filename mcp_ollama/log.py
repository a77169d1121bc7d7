"""Logging: structlog and the stdlib, both to stderr (stdout carries JSON-RPC under stdio)."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "redact_secrets"]

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


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Send every log line to stderr; JSON unless stderr is a terminal."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        redact_secrets,
    ]
    if use_json:
        # No locals in tracebacks: they can hold prompts or tokens.
        processors.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        processors.append(structlog.processors.JSONRenderer())
    else:
        processors.append(structlog.dev.ConsoleRenderer())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [logging.StreamHandler(sys.stderr)]
    root.setLevel(level)
    # uvicorn's access log would otherwise go to stdout.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx2").setLevel(logging.WARNING)
