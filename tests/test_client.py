"""OllamaClient against the fake daemon over real loopback sockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

import pytest

from mcp_ollama.errors import (
    MalformedResponseError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaResponseError,
    OllamaStallError,
)
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage, ChatRequest, EmbedRequest, GenerateRequest
from mcp_ollama.results import per_second
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle

pytestmark = pytest.mark.anyio


async def _drain(stream: AsyncGenerator[object, None]) -> None:
    async with aclosing(stream) as items:
        async for _ in items:
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_version_tags_show_and_ps_parse_every_field(ollama: OllamaClient) -> None:
    assert (await ollama.version()).version == "0.12.3"
    models = await ollama.list_models()
    names = [m.name for m in models]
    assert "llama3.2:1b" in names
    llama = next(m for m in models if m.name == "llama3.2:1b")
    assert len(llama.digest) == 64
    assert llama.size > 0
    assert llama.details.family == "llama"
    show = await ollama.show("llama3.2:1b")
    assert show.context_length == 131072
    assert "completion" in show.capabilities
    assert await ollama.running() == []


async def test_generate_returns_the_whole_answer_with_consistent_counters(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    result = await ollama.generate(GenerateRequest(model="llama3.2:1b", prompt="hello there"))
    assert result.done
    assert result.response
    assert result.eval_count
    assert result.eval_duration
    assert result.total_duration
    assert result.total_duration >= result.eval_duration
    assert [m.name for m in await ollama.running()] == ["llama3.2:1b"]


async def test_stream_generate_yields_one_chunk_per_token_then_done(ollama: OllamaClient) -> None:
    request = GenerateRequest(model="llama3.2:1b", prompt="count", options={"num_predict": 5})
    async with aclosing(ollama.stream_generate(request)) as chunks:
        received = [chunk async for chunk in chunks]
    assert [c.done for c in received] == [False] * 5 + [True]
    assert received[-1].eval_count == 5
    assert received[-1].done_reason == "length"


async def test_the_request_body_carries_exactly_what_was_asked(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    request = GenerateRequest(
        model="llama3.2:1b",
        prompt="p",
        system="s",
        format={"type": "object"},
        options={"temperature": 0.1, "seed": 7},
        keep_alive="10m",
    )
    await ollama.generate(request)
    body = fake.requests_to("/api/generate")[-1].body
    assert body == {
        "model": "llama3.2:1b",
        "prompt": "p",
        "system": "s",
        "format": {"type": "object"},
        "options": {"temperature": 0.1, "seed": 7},
        "keep_alive": "10m",
        "stream": False,
    }


async def test_chat_streams_and_returns_the_assistant_message(ollama: OllamaClient) -> None:
    request = ChatRequest(model="llama3.2:1b", messages=[ChatMessage(role="user", content="hi")])
    whole = await ollama.chat(request)
    assert whole.message.role == "assistant"
    assert whole.message.content
    async with aclosing(ollama.stream_chat(request)) as chunks:
        streamed = "".join([c.message.content async for c in chunks])
    assert streamed == whole.message.content


async def test_thinking_models_return_thinking_separately(ollama: OllamaClient) -> None:
    request = ChatRequest(
        model="qwen3:0.6b", messages=[ChatMessage(role="user", content="why?")], think=True
    )
    result = await ollama.chat(request)
    assert result.message.thinking
    assert result.message.content


async def test_embed_returns_normalised_vectors_for_each_text(ollama: OllamaClient) -> None:
    result = await ollama.embed(EmbedRequest(model="nomic-embed-text", input=["a", "b"]))
    assert len(result.embeddings) == 2
    for vector in result.embeddings:
        assert abs(sum(x * x for x in vector) - 1.0) < 1e-3


async def test_pull_streams_growing_progress_and_adds_the_model(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    model = next(iter(fake.pullable))
    async with aclosing(ollama.pull(model)) as lines:
        progress = [line async for line in lines]
    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    # Each layer (digest) reports its own byte count, which only grows.
    per_digest: dict[str, list[int]] = {}
    for line in progress:
        if line.digest and line.completed is not None:
            per_digest.setdefault(line.digest, []).append(line.completed)
    assert per_digest
    assert all(counts == sorted(counts) for counts in per_digest.values())
    assert any(len(counts) >= 2 for counts in per_digest.values())
    assert any(m.name.startswith(model.split(":")[0]) for m in await ollama.list_models())


async def test_pulling_an_unknown_model_raises_the_registry_error(ollama: OllamaClient) -> None:
    with pytest.raises(OllamaResponseError) as excinfo:
        await _drain(ollama.pull("no-such-model-anywhere"))
    assert "file does not exist" in excinfo.value.error


async def test_copy_then_delete_change_the_installed_models(ollama: OllamaClient) -> None:
    await ollama.copy("llama3.2:1b", "my-llama:latest")
    assert "my-llama:latest" in [m.name for m in await ollama.list_models()]
    await ollama.delete("my-llama:latest")
    assert "my-llama:latest" not in [m.name for m in await ollama.list_models()]
    with pytest.raises(ModelNotFoundError):
        await ollama.delete("my-llama:latest")


async def test_unload_removes_the_model_from_memory(ollama: OllamaClient) -> None:
    await ollama.generate(GenerateRequest(model="llama3.2:1b", prompt="x"))
    result = await ollama.unload("llama3.2:1b")
    assert result.done_reason == "unload"
    assert await ollama.running() == []


MISSING_MODEL_CALLS: dict[str, Callable[[OllamaClient], Awaitable[object]]] = {
    "generate": lambda c: c.generate(GenerateRequest(model="ghost:7b", prompt="x")),
    "show": lambda c: c.show("ghost:7b"),
    "embed": lambda c: c.embed(EmbedRequest(model="ghost:7b", input="x")),
    "chat": lambda c: c.chat(
        ChatRequest(model="ghost:7b", messages=[ChatMessage(role="user", content="x")])
    ),
}


@pytest.mark.parametrize("call", sorted(MISSING_MODEL_CALLS))
async def test_a_missing_model_raises_model_not_found_naming_it(
    ollama: OllamaClient, call: str
) -> None:
    with pytest.raises(ModelNotFoundError) as excinfo:
        await MISSING_MODEL_CALLS[call](ollama)
    assert excinfo.value.model == "ghost:7b"
    assert excinfo.value.status_code == 404
    assert "pull_model" in str(excinfo.value)


async def test_connection_refused_says_how_to_start_ollama() -> None:
    async with OllamaClient(
        f"http://127.0.0.1:{_free_port()}", max_retries=1, retry_backoff=0.001
    ) as client:
        with pytest.raises(OllamaConnectionError) as excinfo:
            await client.version()
    assert "ollama serve" in str(excinfo.value)


async def test_http_500_carries_ollamas_message_and_status(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.fault = "http_500"
    with pytest.raises(OllamaResponseError) as excinfo:
        await ollama.generate(GenerateRequest(model="llama3.2:1b", prompt="x"))
    assert excinfo.value.status_code == 500
    assert excinfo.value.error


async def test_reads_retry_503_with_backoff_until_the_daemon_recovers(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.fault = "http_503"
    fake.fault_count = 2
    models = await ollama.list_models()
    assert models
    assert len(fake.requests_to("/api/tags")) == 3


async def test_reads_give_up_after_max_retries(ollama: OllamaClient, fake: FakeOllama) -> None:
    fake.fault = "http_503"
    with pytest.raises(OllamaResponseError) as excinfo:
        await ollama.list_models()
    assert excinfo.value.status_code == 503
    assert len(fake.requests_to("/api/tags")) == ollama.max_retries + 1


async def test_generation_is_never_retried(ollama: OllamaClient, fake: FakeOllama) -> None:
    fake.fault = "http_503"
    with pytest.raises(OllamaResponseError):
        await ollama.generate(GenerateRequest(model="llama3.2:1b", prompt="x"))
    assert len(fake.requests_to("/api/generate")) == 1


async def test_a_dropped_stream_raises_a_connection_error(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.fault = "drop_mid_stream"
    with pytest.raises(OllamaConnectionError):
        await _drain(ollama.stream_generate(GenerateRequest(model="llama3.2:1b", prompt="x")))


async def test_a_silent_stream_is_abandoned_after_the_stall_timeout(
    fake_ollama: FakeServerHandle, fake: FakeOllama
) -> None:
    fake.fault = "slow"
    async with OllamaClient(fake_ollama.url, stall_timeout=0.3) as client:
        with pytest.raises(OllamaStallError):
            await _drain(client.stream_generate(GenerateRequest(model="llama3.2:1b", prompt="x")))


async def test_a_malformed_line_raises_malformed_response(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.fault = "malformed_line"
    with pytest.raises(MalformedResponseError):
        await _drain(ollama.stream_generate(GenerateRequest(model="llama3.2:1b", prompt="x")))


async def test_an_error_line_mid_stream_raises(ollama: OllamaClient, fake: FakeOllama) -> None:
    fake.fault = "error_line"
    with pytest.raises(OllamaResponseError) as excinfo:
        await _drain(ollama.stream_generate(GenerateRequest(model="llama3.2:1b", prompt="x")))
    assert excinfo.value.status_code == -1


async def test_extra_headers_and_api_key_reach_the_daemon(
    fake_ollama: FakeServerHandle, fake: FakeOllama
) -> None:
    settings = Settings(host=fake_ollama.url, api_key="sk-1", headers={"X-Team": "blue"})
    async with OllamaClient.from_settings(settings) as client:
        await client.version()
    headers = fake.requests_to("/api/version")[-1].headers
    assert headers["authorization"] == "Bearer sk-1"
    assert headers["x-team"] == "blue"


async def test_loopback_traffic_ignores_a_dead_proxy(
    fake_ollama: FakeServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    async with OllamaClient(fake_ollama.url) as client:
        result = await client.generate(GenerateRequest(model="llama3.2:1b", prompt="x"))
    assert result.done


async def test_computed_tokens_per_second_matches_the_daemons_rate(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.tokens_per_second = 200
    request = GenerateRequest(model="llama3.2:1b", prompt="x", options={"num_predict": 40})
    result = await ollama.generate(request)
    rate = per_second(result.eval_count, result.eval_duration)
    assert result.eval_count == 40
    assert rate is not None
    assert abs(rate - 200) / 200 < 0.05
