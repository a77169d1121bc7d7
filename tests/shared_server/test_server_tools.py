"""The MCP server's tools driven by real MCP clients in memory, in both protocol eras: the
listed schemas and annotations, and every tool's structured result.

One server and one fake daemon serve the whole module (see conftest.py); every test gets a fresh
client connection and a fake reset to its initial state.
"""

from __future__ import annotations

import base64
import re

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import effective_hints, error_text, ok

pytestmark = pytest.mark.anyio


ALL_TOOLS = {
    "generate_text",
    "chat",
    "embed",
    "list_local_models",
    "show_model",
    "list_running_models",
    "pull_model",
    "copy_model",
    "delete_model",
    "unload_model",
}


# -- the surface ------------------------------------------------------------------------------

# Arguments whose name and type say everything: a description would only cost an agent.
SELF_DESCRIBING = {"prompt", "system", "think", "input"}


async def test_every_tool_is_listed_with_an_output_schema_and_annotations(
    mcp_client: Client,
) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    # delete_model is listed only while destructive operations are enabled.
    assert set(tools) >= ALL_TOOLS - {"delete_model"}
    assert "delete_model" not in tools
    for tool in tools.values():
        assert tool.description, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            if name not in SELF_DESCRIBING:
                assert schema.get("description"), f"{tool.name}.{name} has no description"


async def test_annotations_tell_the_truth_about_each_tool(settings: Settings) -> None:
    enabled = settings.model_copy(update={"allow_destructive": True})
    async with Client(build_server(enabled)) as client:
        listed = (await client.list_tools()).tools
    tools = {tool.name: effective_hints(tool.annotations) for tool in listed}
    for name in ("embed", "list_local_models", "show_model"):
        hints = tools[name]
        assert hints is not None
        assert hints.read_only_hint is True
        assert hints.open_world_hint is False
    # They may append to a session or save their output, but never replace anything.
    for name in ("generate_text", "chat", "generate_batch"):
        hints = tools[name]
        assert hints is not None
        assert hints.read_only_hint is False
        assert hints.destructive_hint is False
        assert hints.open_world_hint is False
    pull = tools["pull_model"]
    assert pull is not None
    assert pull.read_only_hint is False
    assert pull.open_world_hint is True
    delete = tools["delete_model"]
    assert delete is not None
    assert delete.destructive_hint is True
    for name in ("copy_model", "unload_model"):
        hints = tools[name]
        assert hints is not None
        assert hints.read_only_hint is False
        assert hints.destructive_hint is False


# -- every tool -------------------------------------------------------------------------------


async def test_generate_text_returns_text_usage_and_zero_cost(
    mcp_client: Client, fake: FakeOllama
) -> None:
    data = ok(
        await mcp_client.call_tool(
            "generate_text",
            {"model": "llama3.2:1b", "prompt": "Say hi", "options": {"num_predict": 5}},
        )
    )
    assert data["text"]
    assert data["done_reason"] == "length"
    usage = data["usage"]
    assert usage["output_tokens"] == 5
    assert usage["prompt_tokens"] >= 1
    assert usage["tokens_per_second"] > 0
    assert usage["total_ms"] > 0
    assert usage["cost"] == 0
    assert fake.requests_to("/api/generate")[-1].body["prompt"] == "Say hi"


async def test_generate_text_passes_every_argument_to_the_daemon(
    client: Client, fake: FakeOllama
) -> None:
    fake.add_model("llava:7b", capabilities=("completion", "vision", "insert"))
    image = base64.b64encode(b"\x89PNG fake").decode()
    ok(
        await client.call_tool(
            "generate_text",
            {
                "model": "llava:7b",
                "prompt": "describe",
                "system": "be brief",
                "preset": "precise",
                "options": {"seed": 7},
                "format": "json",
                "images": [image],
                "suffix": "end",
                "keep_alive": "1m",
            },
        )
    )
    body = fake.requests_to("/api/generate")[-1].body
    assert body["system"] == "be brief"
    assert body["options"]["seed"] == 7
    assert body["options"]["temperature"] == 0.3  # from the preset
    assert body["format"] == "json"
    assert body["images"] == [image]
    assert body["suffix"] == "end"
    assert body["keep_alive"] == "1m"


async def test_generate_text_returns_the_reasoning_of_a_thinking_model(
    client: Client,
) -> None:
    data = ok(
        await client.call_tool(
            "generate_text", {"model": "qwen3:0.6b", "prompt": "2+2?", "think": True}
        )
    )
    assert data["thinking"]
    assert data["text"]


async def test_chat_returns_the_assistant_message_and_usage(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.script_response("Paris.")
    data = ok(
        await mcp_client.call_tool(
            "chat",
            {
                "model": "llama3.2:1b",
                "messages": [{"role": "user", "content": "Capital of France?"}],
                "system": "Answer in one word.",
            },
        )
    )
    assert data["message"]["role"] == "assistant"
    assert data["message"]["content"] == "Paris."
    assert data["usage"]["output_tokens"] >= 1
    sent = fake.requests_to("/api/chat")[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in one word."}


async def test_chat_returns_tool_calls(client: Client, fake: FakeOllama) -> None:
    fake.script_response("", tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    weather_tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    data = ok(
        await client.call_tool(
            "chat",
            {
                "model": "llama3.2:1b",
                "messages": [{"role": "user", "content": "Weather in Oslo?"}],
                "tools": [weather_tool],
            },
        )
    )
    (call,) = data["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == {"city": "Oslo"}


async def test_embed_takes_one_text_or_many(client: Client) -> None:
    one = ok(await client.call_tool("embed", {"model": "nomic-embed-text", "input": "hello"}))
    assert len(one["embeddings"]) == 1
    assert one["dimensions"] == 768
    many = ok(
        await client.call_tool(
            "embed", {"model": "nomic-embed-text", "input": ["a", "b", "c"], "dimensions": 64}
        )
    )
    assert len(many["embeddings"]) == 3
    assert many["dimensions"] == 64


async def test_list_local_models_describes_each_model(client: Client, fake: FakeOllama) -> None:
    fake.load_model("qwen3:0.6b")
    data = ok(await client.call_tool("list_local_models", {"force_refresh": True}))
    models = {m["name"]: m for m in data["models"]}
    assert set(models) == {"llama3.2:1b", "qwen3:0.6b", "nomic-embed-text:latest"}
    llama = models["llama3.2:1b"]
    assert llama["digest"] == "baf6a787fdff"
    assert llama["size_bytes"] == 1_321_098_329
    assert llama["family"] == "llama"
    assert llama["parameter_size"] == "1.2B"
    assert llama["quantization"] == "Q8_0"
    assert llama["context_length"] == 131072
    assert "completion" in llama["capabilities"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", llama["modified_at"])
    assert llama["loaded"] is False
    assert models["qwen3:0.6b"]["loaded"] is True


async def test_show_model_returns_details(client: Client) -> None:
    data = ok(await client.call_tool("show_model", {"model": "qwen3:0.6b"}))
    assert data["context_length"] == 40960
    assert "thinking" in data["capabilities"]
    assert "temperature" in data["parameters"]
    assert data["template"]


async def test_list_running_models_shows_what_a_generation_loaded(client: Client) -> None:
    assert ok(await client.call_tool("list_running_models", {}))["models"] == []
    ok(await client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "hi"}))
    (running,) = ok(await client.call_tool("list_running_models", {}))["models"]
    assert running["name"] == "llama3.2:1b"
    assert running["processor"] == "100% CPU"
    assert running["size_bytes"] > 0


async def test_unload_model_frees_the_memory(client: Client, fake: FakeOllama) -> None:
    fake.load_model("llama3.2:1b")
    data = ok(await client.call_tool("unload_model", {"model": "llama3.2:1b"}))
    assert data["ok"] is True
    assert fake.loaded_models() == []


async def test_pull_model_downloads_and_the_model_is_then_listed(
    client: Client, fake: FakeOllama
) -> None:
    data = ok(await client.call_tool("pull_model", {"model": "tinyllama"}))
    assert data["status"] == "success"
    assert data["total_bytes"] > 0
    assert data["completed_bytes"] == data["total_bytes"]
    assert fake.get_model("tinyllama") is not None
    listed = ok(await client.call_tool("list_local_models", {}))
    assert "tinyllama:latest" in {m["name"] for m in listed["models"]}


async def test_copy_model_makes_a_new_name(client: Client, fake: FakeOllama) -> None:
    data = ok(
        await client.call_tool(
            "copy_model", {"source": "llama3.2:1b", "destination": "my-llama:v1"}
        )
    )
    assert "my-llama:v1" in data["message"]
    assert fake.get_model("my-llama:v1") is not None


async def test_delete_model_is_refused_unless_destructive_operations_are_enabled(
    client: Client, fake: FakeOllama
) -> None:
    text = error_text(await client.call_tool("delete_model", {"model": "llama3.2:1b"}))
    assert "MCP_OLLAMA_ALLOW_DESTRUCTIVE" in text
    assert fake.get_model("llama3.2:1b") is not None
    assert fake.requests_to("/api/delete") == []


async def test_delete_model_deletes_when_enabled(settings: Settings, fake: FakeOllama) -> None:
    enabled = settings.model_copy(update={"allow_destructive": True})
    async with Client(build_server(enabled)) as client:
        data = ok(await client.call_tool("delete_model", {"model": "qwen3:0.6b"}))
    assert data["ok"] is True
    assert fake.get_model("qwen3:0.6b") is None
