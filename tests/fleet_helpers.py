"""Three fake daemons on loopback with overlapping model sets, and settings naming them as hosts.

gpu:    llama3.2:1b, qwen3:0.6b
laptop: llama3.2:1b, gemma3:270m
nas:    qwen3:0.6b, nomic-embed-text:latest
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama

__all__ = ["MODELS", "FakeFleet", "fake_fleet"]

MODELS: dict[str, tuple[str, ...]] = {
    "gpu": ("llama3.2:1b", "qwen3:0.6b"),
    "laptop": ("llama3.2:1b", "gemma3:270m"),
    "nas": ("qwen3:0.6b", "nomic-embed-text:latest"),
}


@dataclass
class FakeFleet:
    """The fake daemons by host name, and settings for a server that uses them all."""

    handles: dict[str, FakeServerHandle]
    settings: Settings

    def fake(self, name: str) -> FakeOllama:
        """The fake daemon behind host `name`."""
        return self.handles[name].fake

    def calls(self, name: str, path: str = "/api/generate") -> int:
        """How many requests host `name` received on `path`."""
        return len(self.fake(name).requests_to(path))

    def spread(self, path: str = "/api/generate") -> dict[str, int]:
        """Requests on `path` per host."""
        return {name: self.calls(name, path) for name in self.handles}


def _fake_with(models: Sequence[str]) -> FakeOllama:
    fake = FakeOllama()
    for installed in list(fake.models):
        if installed.name not in models:
            fake.remove_model(installed.name)
    for name in models:
        if fake.get_model(name) is None:
            fake.add_model(name, family=name.split(":")[0])
    return fake


@contextmanager
def fake_fleet(
    directory: Path,
    hosts: Sequence[str] = ("gpu", "laptop", "nas"),
    *,
    weights: dict[str, float] | None = None,
    **overrides: Any,
) -> Iterator[FakeFleet]:
    """The named fake daemons serving, and settings with a `[hosts.NAME]` table for each (no
    auto-start, no CLI fallback, quick retries); `overrides` set other settings."""
    with ExitStack() as stack:
        handles = {
            name: stack.enter_context(serve_fake_ollama(_fake_with(MODELS[name]))) for name in hosts
        }
        tables = {
            name: {"url": handle.url, "weight": (weights or {}).get(name, 1.0)}
            for name, handle in handles.items()
        }
        values: dict[str, Any] = {
            "hosts": tables,
            "data_dir": directory / "data",
            "auto_start": False,
            "cli_fallback": False,
            "retry_backoff": 0.01,
            "stall_timeout": 5,
            **overrides,
        }
        yield FakeFleet(handles, Settings(**values))
