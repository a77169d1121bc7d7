"""The MCP server's long calls, through real MCP clients in memory: progress notifications
while a generation, a chat or a pull streams, and cancellation closing the daemon's stream.

One server and one fake daemon serve the whole module (see conftest.py); every test gets a fresh
client connection and a fake reset to its initial state.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import ProgressLog, ok, poll

pytestmark = pytest.mark.anyio


# -- progress ---------------------------------------------------------------------------------


async def test_a_long_generation_streams_several_increasing_progress_notifications(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.tokens_per_second = 150
    fake.response_tokens = 80
    progress = ProgressLog()
    data = ok(
        await mcp_client.call_tool(
            "generate_text",
            {"model": "llama3.2:1b", "prompt": "tell a story", "options": {"num_predict": 80}},
            progress_callback=progress,
        )
    )
    await poll(lambda: progress.values and progress.values[-1] == 80)
    assert len(progress.values) >= 3
    assert progress.values == sorted(set(progress.values))
    # At most ~10 a second: far fewer notifications than tokens.
    assert len(progress.values) < 80
    assert progress.messages[-1]
    assert data["text"].endswith(progress.messages[-1])


async def test_a_chat_streams_progress_too(client: Client, fake: FakeOllama) -> None:
    fake.tokens_per_second = 150
    fake.response_tokens = 60
    progress = ProgressLog()
    ok(
        await client.call_tool(
            "chat",
            {
                "model": "llama3.2:1b",
                "messages": [{"role": "user", "content": "story"}],
                "options": {"num_predict": 60},
            },
            progress_callback=progress,
        )
    )
    await poll(lambda: progress.values and progress.values[-1] == 60)
    assert len(progress.values) >= 3
    assert progress.values == sorted(set(progress.values))


async def test_a_pull_streams_several_increasing_byte_progress_notifications(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.pull_step_delay = 0.03
    fake.pull_steps = 10
    progress = ProgressLog()
    ok(
        await mcp_client.call_tool(
            "pull_model", {"model": "gemma3:270m"}, progress_callback=progress
        )
    )
    await poll(lambda: progress.messages and progress.messages[-1] == "success")
    assert len(progress.values) >= 3
    assert progress.values == sorted(set(progress.values))
    assert any(m and m.startswith("pulling") for m in progress.messages)
    assert progress.totals[-1] is not None
    assert progress.values[-1] <= progress.totals[-1]


async def test_a_call_without_a_progress_token_gets_the_same_answer(
    client: Client, fake: FakeOllama
) -> None:
    fake.script_response("a quiet answer")
    data = ok(await client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "x"}))
    assert data["text"] == "a quiet answer"


# -- cancellation -----------------------------------------------------------------------------


async def test_cancelling_a_generation_closes_the_daemon_stream_at_once(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.tokens_per_second = 20
    first_token = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        first_token.set()

    arguments = {"model": "llama3.2:1b", "prompt": "go", "options": {"num_predict": 1000}}
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await mcp_client.call_tool(
                    "generate_text", arguments, progress_callback=on_progress
                )

            tg.start_soon(call)
            await first_token.wait()
            tg.cancel_scope.cancel()
        await poll(fake.disconnected.is_set)
    assert fake.disconnect_paths == ["/api/generate"]
    await poll(lambda: fake.active_requests == 0)
    # Nothing left behind: the same session keeps serving.
    listed = ok(await mcp_client.call_tool("list_local_models", {}))
    assert listed["models"]


async def test_cancelling_a_pull_closes_the_daemon_stream(client: Client, fake: FakeOllama) -> None:
    fake.pull_hang = True
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "pull_model", {"model": "tinyllama"})
            await poll(lambda: fake.requests_to("/api/pull"))
            tg.cancel_scope.cancel()
        await poll(fake.disconnected.is_set)
    assert fake.disconnect_paths == ["/api/pull"]
