"""Fixtures for the tests of the fakes themselves: one fake daemon served per test module and
reset for every test, and the clients that judge it (the official `ollama` client and raw
httpx2)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import ollama
import pytest

from tests.fake_fidelity.helpers import BOUND
from tests.fake_ollama import FakeOllama, FakeServerHandle, serve_fake_ollama


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeServerHandle]:
    with serve_fake_ollama(FakeOllama()) as handle:
        yield handle


@pytest.fixture
def served(module_server: FakeServerHandle) -> FakeServerHandle:
    """One served fake per module, reset to its initial state for every test."""
    module_server.fake.reset()
    return module_server


@pytest.fixture
def daemon(served: FakeServerHandle) -> FakeOllama:
    return served.fake


@pytest.fixture(scope="module")
def module_clients(
    module_server: FakeServerHandle,
) -> Iterator[tuple[ollama.Client, httpx2.Client]]:
    # Clients are module-scoped only because building one costs ~60 ms (TLS context).
    with (
        ollama.Client(host=module_server.url) as official,
        httpx2.Client(base_url=module_server.url, timeout=BOUND) as raw,
    ):
        yield official, raw


@pytest.fixture
def client(
    served: FakeServerHandle, module_clients: tuple[ollama.Client, httpx2.Client]
) -> ollama.Client:
    """The official `ollama` client pointed at the served fake."""
    return module_clients[0]


@pytest.fixture
def http(
    served: FakeServerHandle, module_clients: tuple[ollama.Client, httpx2.Client]
) -> httpx2.Client:
    """A raw httpx2 client pointed at the served fake."""
    return module_clients[1]
