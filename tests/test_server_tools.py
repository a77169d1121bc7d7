"""The MCP server driven by real MCP clients in memory, in both protocol eras: every tool's
structured result, schemas and annotations, progress, cancellation, concurrency and errors.

One server and one fake daemon serve the whole module (see `SharedServer`); every test gets a
fresh client connection and a fake reset to its initial state.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import (
    ProgressLog,
    SharedServer,
    error_text,
    free_port,
    ok,
    poll,
    shared_server,
)

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


# -- the surface ------------------------------------------------------------------------------


async def test_every_tool_is_listed_with_an_output_schema_and_annotations(
    mcp_client: Client,
) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    assert set(tools) >= ALL_TOOLS
    for tool in tools.values():
        assert tool.description, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.read_only_hint is not None, tool.name
        assert tool.annotations.open_world_hint is not None, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"


async def test_annotations_tell_the_truth_about_each_tool(client: Client) -> None:
    tools = {tool.name: tool.annotations for tool in (await client.list_tools()).tools}
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
    assert llama["size"] == "1.3 GB"
    assert llama["family"] == "llama"
    assert llama["parameter_size"] == "1.2B"
    assert llama["quantization"] == "Q8_0"
    assert llama["format"] == "gguf"
    assert llama["context_length"] == 131072
    assert "completion" in llama["capabilities"]
    assert llama["modified_at"]
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


# -- concurrency ------------------------------------------------------------------------------


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


# -- errors -----------------------------------------------------------------------------------


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
    assert "prompt" in result.content[0].text  # type: ignore[union-attr]


async def test_a_boolean_keep_alive_is_refused_not_read_as_one_second(
    client: Client, fake: FakeOllama
) -> None:
    before = len(fake.requests_to("/api/generate"))
    result = await client.call_tool(
        "generate_text", {"model": "llama3.2:1b", "prompt": "x", "keep_alive": True}
    )
    assert result.is_error
    assert "keep_alive" in result.content[0].text  # type: ignore[union-attr]
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
