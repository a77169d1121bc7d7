"""Usage accounting: per-model tokens, calls, errors and time, persisted, equal to the daemon's
own counts, exposed as a tool and a resource."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from mcp_ollama.errors import OllamaResponseError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
EMBEDDER = "nomic-embed-text:latest"


def words(text: str) -> int:
    return len(text.split())


async def test_usage_totals_equal_the_daemons_counts(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.response_tokens = 7
    await service.generation.generate(MODEL, "one two three")
    await service.generation.generate(MODEL, "four five", system="six")
    await service.generation.chat(MODEL, [ChatMessage(role="user", content="seven eight nine ten")])
    await service.generation.embed(EMBEDDER, ["a b", "c d e"])

    report = await service.usage.report()
    by_model = {m.model: m for m in report.models}
    llama = by_model[MODEL]
    # The fake counts prompt tokens as words and answers with response_tokens tokens.
    assert llama.prompt_tokens == words("one two three") + words("six four five") + 4
    assert llama.output_tokens == 3 * 7
    assert (llama.calls, llama.errors, llama.cost) == (3, 0, 0.0)
    assert llama.total_tokens == llama.prompt_tokens + llama.output_tokens
    assert llama.duration_ms > 0
    embedder = by_model[EMBEDDER]
    assert (embedder.calls, embedder.prompt_tokens, embedder.output_tokens) == (1, 5, 0)
    assert report.total.calls == 4
    assert report.total.prompt_tokens == llama.prompt_tokens + embedder.prompt_tokens
    assert report.total.cost == 0.0


async def test_failed_calls_count_as_errors(service: OllamaService, fake: FakeOllama) -> None:
    fake.set_fault("http_500", count=1, paths={"/api/generate"})
    with pytest.raises(OllamaResponseError):
        await service.generation.generate(MODEL, "x")
    await service.generation.generate(MODEL, "x")
    (usage,) = (await service.usage.report(MODEL)).models
    assert (usage.calls, usage.errors) == (2, 1)
    assert usage.prompt_tokens == 1


async def test_usage_survives_a_restart_and_names_are_canonical(
    settings: Settings, ollama: OllamaClient
) -> None:
    first = OllamaService(settings, ollama)
    await first.generation.generate(MODEL, "hello there")
    await first.aclose()

    second = OllamaService(settings, ollama)
    try:
        await second.generation.generate(MODEL.upper(), "again")
        report = await second.usage.report()
    finally:
        await second.aclose()
    assert [(m.model, m.calls, m.prompt_tokens) for m in report.models] == [(MODEL, 2, 3)]


async def test_each_batch_item_is_counted(service: OllamaService, fake: FakeOllama) -> None:
    result = await service.generation.generate_batch(MODEL, ["a", "b c", "d e f"])
    (usage,) = (await service.usage.report()).models
    assert usage.calls == 3
    assert usage.prompt_tokens == result.prompt_tokens == 6
    assert usage.output_tokens == result.output_tokens


async def test_get_usage_and_the_usage_resource_agree(mcp_client: Client) -> None:
    ok(await mcp_client.call_tool("generate_text", {"model": MODEL, "prompt": "count me"}))
    ok(
        await mcp_client.call_tool(
            "chat", {"model": MODEL, "messages": [{"role": "user", "content": "and me"}]}
        )
    )
    tool = ok(await mcp_client.call_tool("get_usage", {}))
    assert tool["total"]["calls"] == 2
    assert tool["models"][0]["model"] == MODEL
    assert tool["models"][0]["cost"] == 0.0

    listed = {str(r.uri) for r in (await mcp_client.list_resources()).resources}
    assert "usage://summary" in listed
    content = (await mcp_client.read_resource("usage://summary")).contents[0]
    resource = json.loads(getattr(content, "text", ""))
    assert resource["total"] == tool["total"]

    only = ok(await mcp_client.call_tool("get_usage", {"model": "other:latest"}))
    assert only["models"] == []
    assert only["total"]["calls"] == 0


async def test_the_usage_resource_counts_a_call_read_right_after_it_answers(
    mcp_client: Client,
) -> None:
    # The server records usage after answering; a read must still see every answered call.
    for prompt in ("one", "two", "three"):
        ok(await mcp_client.call_tool("generate_text", {"model": MODEL, "prompt": prompt}))
        content = (await mcp_client.read_resource("usage://summary")).contents[0]
        resource = json.loads(getattr(content, "text", ""))
        assert resource["total"]["calls"] == {"one": 1, "two": 2, "three": 3}[prompt]
