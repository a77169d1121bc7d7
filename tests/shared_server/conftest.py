"""Fixtures for the test modules in this folder, which share one MCP server: one server and one
fake daemon serve each whole module (see `SharedServer`; `shared` is module-scoped); every test
gets a fresh client connection and a fake reset to its initial state.

`fake`, `settings` and `mcp_client` override tests/conftest.py's per-test daemon for this folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import SharedServer, shared_server


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    with shared_server(tmp_path_factory.mktemp("server")) as value:
        yield value


@pytest.fixture
def fake(shared: SharedServer) -> FakeOllama:
    return shared.reset()


@pytest.fixture
def settings(shared: SharedServer) -> Settings:
    return shared.settings


@pytest.fixture(params=["auto", "legacy"])
async def mcp_client(
    request: pytest.FixtureRequest, shared: SharedServer, fake: FakeOllama
) -> AsyncIterator[Client]:
    async with Client(shared.server, mode=request.param) as connected:
        yield connected


@pytest.fixture
async def client(shared: SharedServer, fake: FakeOllama) -> AsyncIterator[Client]:
    """One era is enough where the era cannot matter: the legacy handshake, whose JSON-RPC
    loop serialises every result (the modern era runs over real transports elsewhere)."""
    async with Client(shared.server, mode="legacy") as connected:
        yield connected
