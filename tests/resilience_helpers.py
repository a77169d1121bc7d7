"""Shared by the resilience tests (test_resilience_*.py): settings for a server with the CLI
fallback on, and a service that stops the daemon it may have started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings


def make_settings(host: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for `host`: CLI fallback on, no auto-start, quick retries; `overrides` win."""
    values: dict[str, Any] = {
        "host": host,
        "data_dir": tmp_path / "data",
        "auto_start": False,
        "cli_fallback": True,
        "retry_backoff": 0.01,
        "stall_timeout": 5,
        "stop_daemon_on_exit": True,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def service_for(settings: Settings) -> AsyncIterator[OllamaService]:
    """A service over `settings` that stops the daemon it started, if any, on the way out."""
    async with OllamaClient.from_settings(settings) as client:
        service = OllamaService(settings, client)
        try:
            yield service
        finally:
            await service.fleet.stop()
            await service.aclose()
