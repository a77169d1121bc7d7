"""Shared fixtures: a clean environment, settings in a temporary data dir, the fake daemon,
and real MCP clients (in-memory, both protocol eras) driving the real server."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama
from tests.fake_ollama_cli import install_fake_ollama_cli

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OLLAMA_*/MCP_OLLAMA_*/proxy variable leaks in; data and an empty config file live in
    tmp_path.

    Every tool is enabled (`MCP_OLLAMA_TOOLS=all`): most tests exercise tools outside the
    default toolset; the tests of toolsets set their own.
    """
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("OLLAMA_", "MCP_OLLAMA_")) or upper in PROXY_VARS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("MCP_OLLAMA_DATA_DIR", str(tmp_path / "data"))
    # An empty config file: one named by MCP_OLLAMA_CONFIG must exist.
    (tmp_path / "config.toml").touch()
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("MCP_OLLAMA_TOOLS", "all")


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
def fake_ollama(fake: FakeOllama) -> Iterator[FakeServerHandle]:
    """The fake daemon serving on a free loopback port."""
    with serve_fake_ollama(fake) as handle:
        yield handle


@pytest.fixture
def settings(fake_ollama: FakeServerHandle, tmp_path: Path) -> Settings:
    """Settings pointing at the fake daemon; no auto-start, quick retries."""
    return Settings(
        host=fake_ollama.url,
        data_dir=tmp_path / "data",
        auto_start=False,
        cli_fallback=False,
        retry_backoff=0.01,
        stall_timeout=5,
    )


@pytest.fixture
async def ollama(settings: Settings) -> AsyncIterator[OllamaClient]:
    async with OllamaClient.from_settings(settings) as client:
        yield client


@pytest.fixture
async def service(settings: Settings, ollama: OllamaClient) -> AsyncIterator[OllamaService]:
    """The core facade over the fake daemon, closed after the test."""
    service = OllamaService(settings, ollama)
    yield service
    await service.aclose()


@pytest.fixture(params=["auto", "legacy"])
async def mcp_client(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Client]:
    """A real MCP client connected in memory, in both protocol eras."""
    async with Client(build_server(settings), mode=request.param) as client:
        yield client


@dataclass
class FakeCLI:
    """The fake `ollama` executable, first on PATH, logging the argv of every invocation."""

    bin_dir: Path
    path: Path
    log: Path

    def calls(self) -> list[list[str]]:
        """Each invocation's arguments (without the program name), oldest first."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def commands(self) -> list[str]:
        """The subcommand of each invocation (`serve`, `list`, `run`, ...)."""
        return [call[0] for call in self.calls() if call]


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCLI:
    """The fake `ollama` on a temporary PATH (auto-start and CLI-fallback tests)."""
    bin_dir = tmp_path / "bin"
    path = install_fake_ollama_cli(bin_dir)
    log = tmp_path / "ollama-cli.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_OLLAMA_CLI_LOG", str(log))
    return FakeCLI(bin_dir, path, log)
