"""Shared by the security tests (test_security_*.py): the secrets they configure and look for,
and a fixture connecting in-memory clients to servers built with some settings changed.

A test module binds the fixture as a module global (`client_for = security_helpers.client_for`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings

TOKEN = "tok-" + "9" * 28
API_KEY = "sk-ollama-" + "7" * 24
HEADER_SECRET = "hdr-" + "5" * 24


@pytest.fixture
async def client_for(settings: Settings) -> AsyncIterator[Any]:
    """Connect an in-memory client to a server built with some settings changed."""
    stack: list[Client] = []

    async def connect(**changes: Any) -> Client:
        client = Client(build_server(settings.model_copy(update=changes)))
        await client.__aenter__()
        stack.append(client)
        return client

    yield connect
    for client in reversed(stack):
        await client.__aexit__(None, None, None)
