"""What counts as a host failure (the host is unreachable, so a call may move to another host)
and a host's error worded for a fleet (naming the host and `MCP_OLLAMA_HOSTS`, not OLLAMA_HOST)."""

from __future__ import annotations

from mcp_ollama.errors import (
    HOSTS_SETTING,
    CallTimeoutError,
    HostsUnreachableError,
    MalformedResponseError,
    NotOllamaError,
    OllamaConnectionError,
    OllamaError,
    OllamaStartupError,
    OllamaTimeoutError,
)
from mcp_ollama.fleet.host import Host

__all__ = ["for_fleet", "is_host_failure"]


def is_host_failure(exc: BaseException) -> bool:
    """Whether an error means the host is unreachable (so the call may move), rather than an
    answer from Ollama or the call running out of its own time."""
    if isinstance(exc, CallTimeoutError):
        return False
    return isinstance(exc, OllamaConnectionError | OllamaStartupError | OllamaTimeoutError)


def for_fleet(target: Host, exc: OllamaError) -> OllamaError:
    """An error of one host of several, worded for a fleet: one about its address names the
    host and where hosts are configured (not OLLAMA_HOST, which a fleet does not use)."""
    if isinstance(exc, HostsUnreachableError):
        return exc
    if is_host_failure(exc):
        return HostsUnreachableError([(target.name, exc.what)])
    where = f"the url of host '{target.name}' in {HOSTS_SETTING}"
    if isinstance(exc, NotOllamaError):
        return NotOllamaError(exc.base_url, exc.path, exc.status_code, exc.error, setting=where)
    if isinstance(exc, MalformedResponseError):
        return MalformedResponseError(exc.detail, setting=where)
    return exc
