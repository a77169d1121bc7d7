"""generate_batch: bounded concurrency, per-item results, progress per finished item."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from mcp_ollama.errors import InvalidInputError, InvalidOptionError, OllamaResponseError
from mcp_ollama.generation.batch import MAX_BATCH, check_batch, run_batch
from mcp_ollama.results import GenerationResult
from mcp_ollama.service import OllamaService
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"


async def test_one_injected_failure_does_not_sink_the_other_items(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("http_500", count=2, paths={"/api/generate"})
    prompts = [f"question {i}" for i in range(6)]
    result = await service.generation.generate_batch(MODEL, prompts, concurrency=2)

    assert [item.index for item in result.items] == list(range(6))
    assert (result.succeeded, result.failed, result.concurrency) == (4, 2, 2)
    failed = [item for item in result.items if not item.ok]
    assert all(item.error and "llama runner process" in item.error for item in failed)
    assert all(item.text is None for item in failed)
    ok = [item for item in result.items if item.ok]
    assert all(item.text and item.usage for item in ok)
    assert result.output_tokens == sum(item.usage.output_tokens for item in ok if item.usage)
    assert len(fake.requests_to("/api/generate")) == 6


async def test_each_item_answers_its_own_prompt(service: OllamaService, fake: FakeOllama) -> None:
    prompts = ["alpha", "beta beta", "gamma gamma gamma"]
    result = await service.generation.generate_batch(MODEL, prompts, system="Be brief.")
    sent = {r.body["prompt"]: r.body for r in fake.requests_to("/api/generate")}
    assert set(sent) == set(prompts)
    assert all(body["system"] == "Be brief." for body in sent.values())
    # The fake counts prompt tokens as words of system + prompt: each item got its own count.
    assert [item.usage.prompt_tokens for item in result.items if item.usage] == [3, 4, 5]


async def test_concurrency_is_bounded_and_used() -> None:
    in_flight = 0
    peak = 0
    full = anyio.Event()

    async def generate(prompt: str) -> GenerationResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 3:
            full.set()
        await full.wait()  # the first items wait until three run at once
        in_flight -= 1
        if prompt == "bad":
            raise OllamaResponseError("boom", 500)
        return GenerationResult(model="m", text=prompt.upper())

    with anyio.fail_after(5):
        result = await run_batch("m", ["a", "bad", *"cdefgh"], generate, concurrency=3)
    assert peak == 3
    assert [item.text for item in result.items] == ["A", None, "C", "D", "E", "F", "G", "H"]
    assert result.items[1].error == str(OllamaResponseError("boom", 500))


async def test_progress_counts_finished_items_in_order(mcp_client: Client) -> None:
    seen: list[tuple[float, float | None]] = []
    all_seen = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))
        if len(seen) == 5:
            all_seen.set()

    result = ok(
        await mcp_client.call_tool(
            "generate_batch",
            {"model": MODEL, "prompts": ["a", "b", "c", "d", "e"], "concurrency": 2},
            progress_callback=on_progress,
        )
    )
    assert result["succeeded"] == 5
    with anyio.fail_after(5):  # over JSON-RPC, notifications may trail the result
        await all_seen.wait()
    assert seen == [(float(n), 5.0) for n in range(1, 6)]


async def test_a_bad_batch_is_refused_once_before_anything_is_sent(
    service: OllamaService, fake: FakeOllama
) -> None:
    with pytest.raises(InvalidOptionError):
        await service.generation.generate_batch(MODEL, ["a", "b"], options={"temprature": 1})
    with pytest.raises(InvalidInputError, match="concurrency"):
        await service.generation.generate_batch(MODEL, ["a"], concurrency=10_000)
    with pytest.raises(InvalidInputError, match="skill"):
        await service.generation.generate_batch(MODEL, ["a"], skills=["missing"])
    assert fake.requests_to("/api/generate") == []


def test_batch_limits_are_checked() -> None:
    assert check_batch(["a"], None, 2) == 2
    with pytest.raises(InvalidInputError, match="empty"):
        check_batch([], None, 16)
    with pytest.raises(InvalidInputError, match="split"):
        check_batch(["x"] * (MAX_BATCH + 1), None, 16)
    with pytest.raises(InvalidInputError, match="concurrency"):
        check_batch(["x"], 0, 16)


async def test_the_batch_tool_reports_item_errors_in_the_result(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.set_fault("http_500", count=1, paths={"/api/generate"})
    result = ok(
        await mcp_client.call_tool(
            "generate_batch", {"model": MODEL, "prompts": ["one", "two", "three"], "concurrency": 1}
        )
    )
    assert [item["ok"] for item in result["items"]] == [False, True, True]
    assert "llama runner process has terminated" in result["items"][0]["error"]
