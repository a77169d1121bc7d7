"""OllamaService: validation before the daemon, presets applied, errors an agent can act on."""

from __future__ import annotations

import base64

import pytest

from mcp_ollama.errors import (
    GenerationInterruptedError,
    InvalidInputError,
    InvalidModelNameError,
    InvalidOptionError,
    OllamaTimeoutError,
    PresetNotFoundError,
)
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.anyio


@pytest.fixture
def service(settings: Settings, ollama: OllamaClient) -> OllamaService:
    return OllamaService(settings, ollama)


class Progress:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str | None] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        self.messages.append(message)


async def test_generate_aggregates_the_stream_and_reports_usage(service: OllamaService) -> None:
    result = await service.generation.generate("llama3.2:1b", "hello", options={"num_predict": 6})
    assert result.text
    assert result.usage.output_tokens == 6
    assert result.usage.prompt_tokens >= 1
    assert result.usage.tokens_per_second
    assert result.usage.cost == 0.0
    assert result.done_reason == "length"
    assert result.served_by == "http"


async def test_preset_and_explicit_options_reach_the_daemon_with_explicit_winning(
    service: OllamaService, fake: FakeOllama
) -> None:
    await service.generation.generate(
        "llama3.2:1b", "x", preset="fast", options={"temperature": 0.4}
    )
    sent = fake.requests_to("/api/generate")[-1].body["options"]
    assert sent == {"temperature": 0.4, "top_p": 0.5, "num_predict": 512}


async def test_progress_grows_and_carries_the_tail_of_the_text(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.tokens_per_second = 100
    progress = Progress()
    result = await service.generation.generate(
        "llama3.2:1b", "x", options={"num_predict": 30}, on_progress=progress
    )
    assert len(progress.values) >= 2
    assert progress.values == sorted(set(progress.values))
    assert progress.values[-1] == 30
    assert progress.messages[-1] == result.text[-80:]


async def test_chat_sends_the_system_prompt_first(service: OllamaService, fake: FakeOllama) -> None:
    result = await service.generation.chat(
        "llama3.2:1b", [ChatMessage(role="user", content="hi")], system="be brief"
    )
    assert result.message.role == "assistant"
    assert result.message.content
    messages = fake.requests_to("/api/chat")[-1].body["messages"]
    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"temprature": 0.5}, "Valid options: temperature"),
        ({"temperature": 5}, "less than or equal to 2"),
        ({"top_p": -1}, "greater than or equal to 0"),
        ({"num_ctx": "big"}, "num_ctx"),
    ],
)
async def test_bad_options_are_refused_before_the_daemon_sees_them(
    service: OllamaService, fake: FakeOllama, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InvalidOptionError, match=fragment):
        await service.generation.generate("llama3.2:1b", "x", options=options)
    assert fake.requests_to("/api/generate") == []


@pytest.mark.parametrize("name", ["--help", "-rf", "a b", "../../etc", "x;rm -rf /", ""])
async def test_unsafe_model_names_never_reach_the_daemon(
    service: OllamaService, fake: FakeOllama, name: str
) -> None:
    with pytest.raises(InvalidModelNameError):
        await service.generation.generate(name, "x")
    assert fake.requests_to("/api/generate") == []


async def test_an_unknown_preset_lists_the_available_ones(service: OllamaService) -> None:
    with pytest.raises(PresetNotFoundError, match="fast, creative, balanced, precise, long_form"):
        await service.generation.generate("llama3.2:1b", "x", preset="turbo")


async def test_an_oversized_prompt_is_refused_with_the_limit(
    fake_ollama: object, settings: Settings, ollama: OllamaClient
) -> None:
    small = settings.model_copy(update={"max_prompt_chars": 10})
    with pytest.raises(InvalidInputError, match="over the limit of 10"):
        await OllamaService(small, ollama).generation.generate("llama3.2:1b", "x" * 11)


async def test_invalid_images_and_formats_are_refused(service: OllamaService) -> None:
    with pytest.raises(InvalidInputError, match="base64"):
        await service.generation.generate("llama3.2:1b", "x", images=["not base64!"])
    with pytest.raises(InvalidInputError, match="format"):
        await service.generation.generate("llama3.2:1b", "x", format="xml")


async def test_valid_images_are_passed_through(service: OllamaService, fake: FakeOllama) -> None:
    image = base64.b64encode(b"\x89PNG fake").decode()
    await service.generation.generate("llama3.2:1b", "what is this?", images=[image])
    assert fake.requests_to("/api/generate")[-1].body["images"] == [image]


async def test_a_stream_that_breaks_after_tokens_is_reported_not_retried(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.fault = "drop_mid_stream"
    with pytest.raises(GenerationInterruptedError, match="Call the tool again"):
        await service.generation.generate("llama3.2:1b", "x")
    assert len(fake.requests_to("/api/generate")) == 1


async def test_a_per_call_timeout_ends_the_call_with_advice(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.fault = "slow"
    with pytest.raises(OllamaTimeoutError, match=r"timeout of 0\.2 s"):
        await service.generation.generate("llama3.2:1b", "x", timeout=0.2)


async def test_pull_progress_only_grows_and_ends_with_success(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.pull_step_delay = 0.05  # slower than the 0.1 s progress throttle lets through
    progress = Progress()
    model = next(iter(fake.pullable))
    result = await service.models.pull(model, on_progress=progress)
    assert result.status == "success"
    assert result.completed_bytes == result.total_bytes > 0
    assert len(progress.values) >= 3
    assert progress.values == sorted(set(progress.values))
    assert progress.messages[-1] == "success"


async def test_pull_outside_the_allowlist_is_refused(
    settings: Settings, ollama: OllamaClient, fake: FakeOllama
) -> None:
    strict = settings.model_copy(update={"pull_allowlist": ["llama3*"]})
    with pytest.raises(InvalidInputError, match="not allowed"):
        await OllamaService(strict, ollama).models.pull("gemma3:270m")
    assert fake.requests_to("/api/pull") == []


async def test_delete_is_refused_unless_destructive_operations_are_enabled(
    service: OllamaService, settings: Settings, ollama: OllamaClient, fake: FakeOllama
) -> None:
    with pytest.raises(InvalidInputError, match="MCP_OLLAMA_ALLOW_DESTRUCTIVE"):
        await service.models.delete("llama3.2:1b")
    assert fake.requests_to("/api/delete") == []
    enabled = OllamaService(settings.model_copy(update={"allow_destructive": True}), ollama)
    assert (await enabled.models.delete("llama3.2:1b")).ok
    assert "llama3.2:1b" not in [m.name for m in (await enabled.models.list_models()).models]


async def test_copying_over_an_existing_model_is_destructive(
    service: OllamaService, fake: FakeOllama
) -> None:
    with pytest.raises(InvalidInputError, match="already exists"):
        await service.models.copy("llama3.2:1b", "qwen3:0.6b")
    assert fake.requests_to("/api/copy") == []
    assert (await service.models.copy("llama3.2:1b", "mine:v1")).ok


async def test_list_models_reports_details_context_and_load_state(
    service: OllamaService,
) -> None:
    await service.generation.generate("llama3.2:1b", "warm up")
    models = {m.name: m for m in (await service.models.list_models(force_refresh=True)).models}
    llama = models["llama3.2:1b"]
    assert llama.context_length == 131072
    assert llama.loaded
    assert llama.size_bytes == 1_321_098_329
    assert len(llama.digest) == 12
    assert not models["nomic-embed-text:latest"].loaded


async def test_show_and_running_models(service: OllamaService) -> None:
    info = await service.models.show_model("llama3.2:1b")
    assert info.context_length == 131072
    assert info.family == "llama"
    await service.generation.generate("llama3.2:1b", "x")
    running = (await service.models.running_models()).models
    assert [m.name for m in running] == ["llama3.2:1b"]
    assert running[0].processor


async def test_embed_one_or_many_texts(service: OllamaService) -> None:
    one = await service.generation.embed("nomic-embed-text", "hello")
    many = await service.generation.embed("nomic-embed-text", ["a", "b", "c"])
    assert len(one.embeddings) == 1
    assert len(many.embeddings) == 3
    assert many.dimensions == len(many.embeddings[0]) > 0
