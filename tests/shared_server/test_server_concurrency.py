"""The MCP server under parallel tool calls: they reach the daemon in parallel, up to the
concurrency cap.

One fake daemon serves the whole module (see conftest.py), reset for every test.
"""

from __future__ import annotations

import threading

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import poll

pytestmark = pytest.mark.anyio


async def _parallel_generations(settings: Settings, fake: FakeOllama, calls: int) -> None:
    """Start `calls` generations held at the fake's gate; release them once `settings`'s cap
    (or all of them) are in flight; all must succeed."""
    gate = threading.Event()
    fake.generation_gate = gate
    expected = min(calls, settings.max_concurrent_requests)
    results: list[CallToolResult] = []
    async with Client(build_server(settings)) as client:

        async def one(index: int) -> None:
            args = {"model": "llama3.2:1b", "prompt": f"call {index}"}
            results.append(await client.call_tool("generate_text", args))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for index in range(calls):
                    tg.start_soon(one, index)
                await poll(lambda: fake.active_requests == expected)
                gate.set()
    assert len(results) == calls
    assert all(not r.is_error for r in results)


async def test_parallel_tool_calls_reach_the_daemon_in_parallel(
    settings: Settings, fake: FakeOllama
) -> None:
    await _parallel_generations(settings, fake, 8)
    assert fake.peak_active_requests == 8


async def test_the_concurrency_cap_bounds_calls_in_flight_to_the_daemon(
    settings: Settings, fake: FakeOllama
) -> None:
    capped = settings.model_copy(update={"max_concurrent_requests": 2})
    await _parallel_generations(capped, fake, 8)
    assert fake.peak_active_requests == 2
    assert len(fake.requests_to("/api/generate")) == 8
