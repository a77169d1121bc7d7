"""Strict arguments and the default model: nothing an agent sends is silently ignored, and a
left-out model is the configured default or an error that lists what is installed (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import TOOLS
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text, ok

pytestmark = pytest.mark.anyio


PROMPT = {"model": "llama3.2:1b", "prompt": "Say hi"}
# Arguments agents guess, and what the error must point them to instead.
GUESSES: list[tuple[str, dict[str, Any], str]] = [
    ("generate_text", {**PROMPT, "max_tokens": 5}, "options.num_predict"),
    ("generate_text", {**PROMPT, "temperature": 0.2}, "options.temperature"),
    ("generate_text", {**PROMPT, "context_window": 8192}, "options.num_ctx"),
    ("generate_text", {**PROMPT, "system_prompt": "Be brief"}, "use system"),
    ("generate_text", {**PROMPT, "stream": True}, "not needed"),
    ("generate_text", {**PROMPT, "messages": []}, "use prompt"),
    ("chat", {"model": "llama3.2:1b", "prompt": "hi"}, "use messages"),
    ("embed", {"model": "nomic-embed-text", "texts": ["a"]}, "use input"),
    ("benchmark_model", {"model": "llama3.2:1b", "num_predict": 8}, "use max_tokens"),
    ("show_model", {"model_name": "llama3.2:1b"}, "use model"),
    ("list_local_models", {"force_refres": True}, "did you mean force_refresh?"),
]


async def test_generate_text_with_max_tokens_is_an_error_and_the_daemon_receives_nothing(
    mcp_client: Client, fake: FakeOllama
) -> None:
    text = error_text(await mcp_client.call_tool("generate_text", {**PROMPT, "max_tokens": 5}))
    assert text.startswith("Error executing tool generate_text: unknown argument 'max_tokens'")
    assert "options.num_predict" in text
    assert "valid arguments: model, prompt, files, system," in text
    assert fake.requests == []


@pytest.mark.parametrize(("tool", "arguments", "hint"), GUESSES)
async def test_a_common_guess_says_what_to_use_instead(
    client: Client, fake: FakeOllama, tool: str, arguments: dict[str, Any], hint: str
) -> None:
    text = error_text(await client.call_tool(tool, arguments))
    assert "unknown argument" in text
    assert hint in text
    assert fake.requests == []


async def test_every_tool_refuses_an_argument_it_does_not_have_naming_the_valid_ones(
    client: Client, fake: FakeOllama
) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == set(TOOLS) - {"delete_model"}
    for name, tool in tools.items():
        text = error_text(await client.call_tool(name, {"bogus_argument": 1}))
        assert f"Error executing tool {name}: unknown argument 'bogus_argument'" in text, text
        properties = list(tool.input_schema["properties"])
        if properties:
            assert text.endswith(f"valid arguments: {', '.join(properties)}"), text
        else:
            assert text.endswith("it takes no arguments"), text
    assert fake.requests == []


async def test_invalid_values_are_one_short_line_per_argument(client: Client) -> None:
    text = error_text(
        await client.call_tool("benchmark_model", {"model": "llama3.2:1b", "runs": 500})
    )
    assert text == (
        "Error executing tool benchmark_model: invalid 'runs': input should be less than or "
        "equal to 20"
    )
    missing = error_text(await client.call_tool("chat", {"model": "llama3.2:1b"}))
    assert missing == "Error executing tool chat: missing argument 'messages'"
    assert "pydantic" not in missing


async def test_without_a_default_model_a_missing_model_lists_the_installed_ones(
    mcp_client: Client, fake: FakeOllama
) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    assert "model" in tools["generate_text"].input_schema["required"]
    text = error_text(await mcp_client.call_tool("generate_text", {"prompt": "hi"}))
    assert "no model given; installed: qwen3:0.6b, llama3.2:1b, nomic-embed-text:latest" in text
    assert "MCP_OLLAMA_DEFAULT_MODEL" in text
    assert fake.requests_to("/api/generate") == []


async def test_with_a_default_model_every_tool_that_takes_one_may_leave_it_out(
    settings: Settings, fake: FakeOllama
) -> None:
    configured = settings.model_copy(update={"default_model": "qwen3:0.6b"})
    async with Client(build_server(configured)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        generated = ok(await client.call_tool("generate_text", {"prompt": "hi"}))
        chatted = ok(
            await client.call_tool("chat", {"messages": [{"role": "user", "content": "hi"}]})
        )
        shown = ok(await client.call_tool("show_model", {}))
        explicit = ok(await client.call_tool("generate_text", {**PROMPT}))
    takes_model = {
        name for name, tool in tools.items() if "model" in tool.input_schema["properties"]
    }
    # get_usage's `model` is a filter and delete_model always names what it deletes.
    defaulted = takes_model - {"get_usage", "delete_model"}
    assert defaulted >= {"generate_text", "chat", "embed", "show_model", "pull_model"}
    for name in defaulted:
        schema = tools[name].input_schema
        assert "model" not in schema.get("required", []), name
        assert schema["properties"]["model"]["default"] == "qwen3:0.6b", name
    assert generated["model"] == chatted["model"] == "qwen3:0.6b"
    assert shown["name"] == "qwen3:0.6b"
    assert explicit["model"] == "llama3.2:1b"


async def test_delete_model_never_falls_back_to_the_default_model(
    settings: Settings, fake: FakeOllama
) -> None:
    configured = settings.model_copy(
        update={"default_model": "qwen3:0.6b", "allow_destructive": True}
    )
    async with Client(build_server(configured)) as client:
        text = error_text(await client.call_tool("delete_model", {}))
    assert "missing argument 'model'" in text
    assert fake.get_model("qwen3:0.6b") is not None
