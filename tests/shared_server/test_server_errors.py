"""The MCP server's errors, through real MCP clients in memory: each says what to do next
(pull the model, fix the option, start the daemon), bad input never reaches the daemon, and the
server keeps serving after a failure.

One server and one fake daemon serve the whole module (see conftest.py); every test gets a fresh
client connection and a fake reset to its initial state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, error_text, free_port, ok

pytestmark = pytest.mark.anyio


async def test_a_model_that_is_not_pulled_says_to_call_pull_model(mcp_client: Client) -> None:
    text = error_text(
        await mcp_client.call_tool("generate_text", {"model": "mistral:7b", "prompt": "hi"})
    )
    assert "mistral:7b" in text
    assert "pull_model" in text
    text = error_text(await mcp_client.call_tool("show_model", {"model": "mistral:7b"}))
    assert "pull_model" in text


async def test_an_unknown_option_lists_the_valid_ones(client: Client) -> None:
    text = error_text(
        await client.call_tool(
            "generate_text",
            {"model": "llama3.2:1b", "prompt": "hi", "options": {"temprature": 0.5}},
        )
    )
    assert "temprature" in text
    assert "Valid options" in text
    assert "temperature" in text


async def test_an_out_of_range_option_gives_the_valid_range(
    client: Client, fake: FakeOllama
) -> None:
    text = error_text(
        await client.call_tool(
            "chat",
            {
                "model": "llama3.2:1b",
                "messages": [{"role": "user", "content": "hi"}],
                "options": {"temperature": 5},
            },
        )
    )
    assert "temperature" in text
    assert "less than or equal to 2" in text
    assert fake.requests_to("/api/chat") == []


async def test_an_invalid_model_name_is_refused_before_the_daemon(
    client: Client, fake: FakeOllama
) -> None:
    text = error_text(await client.call_tool("pull_model", {"model": "--help"}))
    assert "invalid model name" in text
    assert fake.requests_to("/api/pull") == []


async def test_an_unknown_preset_is_an_actionable_error(client: Client) -> None:
    text = error_text(
        await client.call_tool(
            "generate_text", {"model": "llama3.2:1b", "prompt": "hi", "preset": "nope"}
        )
    )
    assert "nope" in text
    assert "fast" in text


async def test_a_pull_of_an_unknown_model_points_at_the_library(client: Client) -> None:
    text = error_text(await client.call_tool("pull_model", {"model": "no-such-model:1b"}))
    assert "ollama.com/library" in text


async def test_bad_arguments_are_an_error_result_not_a_crash(client: Client) -> None:
    result = await client.call_tool("generate_text", {"model": "llama3.2:1b"})
    assert result.is_error
    assert "prompt" in block_text(result.content[0])


async def test_a_boolean_keep_alive_is_refused_not_read_as_one_second(
    client: Client, fake: FakeOllama
) -> None:
    before = len(fake.requests_to("/api/generate"))
    result = await client.call_tool(
        "generate_text", {"model": "llama3.2:1b", "prompt": "x", "keep_alive": True}
    )
    assert result.is_error
    assert "keep_alive" in block_text(result.content[0])
    assert len(fake.requests_to("/api/generate")) == before


async def test_a_daemon_that_is_down_says_how_to_start_it(tmp_path: Path) -> None:
    down = Settings(
        host=f"127.0.0.1:{free_port()}",
        data_dir=tmp_path / "data",
        auto_start=False,
        cli_fallback=False,
        retry_backoff=0.001,
        max_retries=1,
    )
    async with Client(build_server(down)) as client:
        text = error_text(await client.call_tool("list_local_models", {}))
        assert "ollama serve" in text
        assert "OLLAMA_HOST" in text
        text = error_text(
            await client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "hi"})
        )
        assert "ollama serve" in text


async def test_the_server_keeps_serving_after_errors_and_a_daemon_failure(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.set_fault("http_500", count=1, paths={"/api/generate"})
    text = error_text(
        await mcp_client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "hi"})
    )
    assert "llama runner process has terminated" in text
    error_text(await mcp_client.call_tool("show_model", {"model": "missing:1b"}))
    data = ok(await mcp_client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "hi"}))
    assert data["text"]
