"""Fixtures for the tests of several hosts: the three fake daemons of `tests.fleet_helpers` (gpu,
laptop, nas) and a real MCP client of a server using them. A module that needs other hosts or
settings defines its own `fleet`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from tests.fleet_helpers import FakeFleet, fake_fleet


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    """The three fake daemons serving, and settings naming them as hosts."""
    with fake_fleet(tmp_path) as value:
        yield value


@pytest.fixture
async def client(fleet: FakeFleet) -> AsyncIterator[Client]:
    """A real MCP client (handshake era) of a server over `fleet`."""
    async with Client(build_server(fleet.settings), mode="legacy") as connected:
        yield connected
