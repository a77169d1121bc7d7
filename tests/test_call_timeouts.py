"""Every tool that talks to the daemon takes a per-call `timeout`: expiry ends the call with
advice, closes the daemon stream, and the next call works."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import text_of

pytestmark = pytest.mark.anyio

BOUND = 10


async def test_a_pull_cut_short_by_its_timeout_says_how_to_resume_and_can_resume(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.pull_step_delay = 0.2
    model = next(iter(fake.pullable))
    with anyio.fail_after(BOUND):
        cut = await mcp_client.call_tool("pull_model", {"model": model, "timeout": 0.3})
    assert cut.is_error
    assert "did not finish within its timeout of 0.3 s" in text_of(cut)
    assert "call pull_model again" in text_of(cut)
    with anyio.fail_after(BOUND):
        while not fake.disconnects:  # the download stream was closed, not left running
            await anyio.sleep(0.01)
    assert fake.disconnect_paths == ["/api/pull"]

    fake.pull_step_delay = 0.0
    with anyio.fail_after(BOUND):
        resumed = await mcp_client.call_tool("pull_model", {"model": model})
    assert not resumed.is_error, text_of(resumed)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("list_local_models", {"force_refresh": True}),
        ("show_model", {"model": "llama3.2:1b"}),
        ("list_running_models", {}),
        ("unload_model", {"model": "llama3.2:1b"}),
    ],
)
async def test_a_hung_daemon_call_ends_at_its_timeout_and_the_next_call_succeeds(
    mcp_client: Client, fake: FakeOllama, tool: str, arguments: dict[str, object]
) -> None:
    fake.fault = "slow"  # the daemon accepts the request, then says nothing for 30 s
    with anyio.fail_after(BOUND):
        hung = await mcp_client.call_tool(tool, {**arguments, "timeout": 0.2})
    assert hung.is_error
    assert f"{tool} did not finish within its timeout of 0.2 s" in text_of(hung)

    fake.fault = None
    with anyio.fail_after(BOUND):
        answered = await mcp_client.call_tool(tool, arguments)
    assert not answered.is_error, text_of(answered)


async def test_a_timeout_must_be_positive(mcp_client: Client) -> None:
    result = await mcp_client.call_tool("list_running_models", {"timeout": 0})
    assert result.is_error
    assert "timeout" in text_of(result)
