"""Resilience when a daemon call fails, end to end: retries counted in the fake's request log,
the CLI fallback serving each tool while the HTTP path is broken, and stall and per-call
timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_ollama.errors import (
    GenerationInterruptedError,
    ModelNotFoundError,
    OllamaCLIError,
    OllamaConnectionError,
    OllamaResponseError,
    OllamaTimeoutError,
)
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import free_port
from tests.resilience_helpers import make_settings, service_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def service(
    fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path
) -> AsyncIterator[OllamaService]:
    """A service with the CLI fallback on, against the fake daemon."""
    async with service_for(make_settings(fake_ollama.url, tmp_path)) as service:
        yield service


@pytest.fixture(params=["auto", "legacy"])
async def client(
    request: pytest.FixtureRequest, fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path
) -> AsyncIterator[Client]:
    """An MCP client of a server with the CLI fallback on, in both protocol eras."""
    settings = make_settings(fake_ollama.url, tmp_path)
    async with Client(build_server(settings), mode=request.param) as mcp:
        yield mcp


def requests(fake: FakeOllama, path: str) -> int:
    return len(fake.requests_to(path))


# -- retries ----------------------------------------------------------------------------------


async def test_idempotent_reads_retry_busy_answers_with_backoff(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("http_503", count=2, paths=["/api/tags"])

    listed = await service.models.list_models()

    assert listed.served_by == "http"
    assert requests(fake, "/api/tags") == 3


async def test_a_busy_generation_is_retried_before_any_token(
    service: OllamaService, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    fake.set_fault("http_503", count=2, paths=["/api/generate"])

    result = await service.generation.generate("llama3.2:1b", "hi")

    assert result.served_by == "http"
    assert requests(fake, "/api/generate") == 3
    assert fake_cli.calls() == []


async def test_a_generation_is_never_repeated_once_tokens_have_streamed(
    service: OllamaService, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    fake.set_fault("drop_mid_stream", count=1, paths=["/api/generate"])

    with pytest.raises(GenerationInterruptedError) as excinfo:
        await service.generation.generate("llama3.2:1b", "hi")

    assert excinfo.value.tokens >= 1
    assert requests(fake, "/api/generate") == 1
    assert fake_cli.calls() == []


async def test_a_missing_model_is_not_a_reason_to_fall_back(
    service: OllamaService, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    with pytest.raises(ModelNotFoundError) as excinfo:
        await service.generation.generate("tinyllama", "hi")

    assert "pull_model" in str(excinfo.value)
    assert fake_cli.calls() == []
    assert requests(fake, "/api/pull") == 0


async def test_persistent_errors_without_the_fallback_fail_after_the_retries(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_fault("http_503", paths=["/api/show"])
    settings = make_settings(fake_ollama.url, tmp_path, cli_fallback=False, max_retries=2)
    async with service_for(settings) as service:
        with pytest.raises(OllamaResponseError) as excinfo:
            await service.models.show_model("llama3.2:1b")

    assert excinfo.value.status_code == 503
    assert requests(fake, "/api/show") == 3


# -- the CLI fallback, tool by tool -----------------------------------------------------------


async def test_generate_text_falls_back_to_the_cli_when_http_errors_persist(
    client: Client, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    fake.set_fault("http_500", count=1, paths=["/api/generate"])
    fake.script_response("Rayleigh scattering.")

    result = await client.call_tool("generate_text", {"model": "llama3.2:1b", "prompt": "Why?"})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["served_by"] == "cli"
    assert result.structured_content["text"] == "Rayleigh scattering."
    assert "run" in fake_cli.commands()


async def test_chat_falls_back_to_the_cli_with_the_last_user_turn(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("http_503", count=4, paths=["/api/chat"])  # outlasts the 3 retries
    fake.script_response("Paris.")
    messages = [
        ChatMessage(role="user", content="Capital of Italy?"),
        ChatMessage(role="assistant", content="Rome."),
        ChatMessage(role="user", content="And of France?"),
    ]

    result = await service.generation.chat("llama3.2:1b", messages, system="Be terse.")

    assert result.served_by == "cli"
    assert result.message.content == "Paris."
    assert requests(fake, "/api/chat") == 4
    assert fake.requests_to("/api/generate")[-1].body["prompt"] == "And of France?"


async def test_list_local_models_falls_back_to_the_cli_when_connections_break(
    client: Client, fake: FakeOllama
) -> None:
    fake.set_fault("drop_mid_stream", count=4, paths=["/api/tags"])

    result = await client.call_tool("list_local_models", {})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["served_by"] == "cli"
    names = [m["name"] for m in result.structured_content["models"]]
    assert names == [m.name for m in fake.models]


async def test_show_model_falls_back_to_the_cli_when_connections_break(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("drop_mid_stream", count=4, paths=["/api/show"])

    info = await service.models.show_model("llama3.2:1b")

    assert info.served_by == "cli"
    assert info.context_length == 131072


async def test_pull_model_falls_back_to_the_cli_when_the_stream_breaks(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("drop_mid_stream", count=1, paths=["/api/pull"])

    result = await service.models.pull("tinyllama")

    assert (result.served_by, result.status) == ("cli", "success")
    assert fake.get_model("tinyllama") is not None
    assert requests(fake, "/api/pull") == 2


async def test_requests_the_cli_cannot_carry_are_not_sent_to_it(
    service: OllamaService, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    fake.set_fault("http_500", paths=["/api/generate"])

    with pytest.raises(OllamaResponseError):
        await service.generation.generate("llama3.2:1b", "describe", images=["aGVsbG8="])

    assert fake_cli.calls() == []


async def test_a_down_daemon_without_auto_start_says_how_to_start_it_after_the_cli_tried(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path)
    async with service_for(settings) as service:
        with pytest.raises(OllamaConnectionError) as excinfo:
            await service.generation.generate("llama3.2:1b", "hi")

    assert "ollama serve" in str(excinfo.value)
    assert fake_cli.commands() == ["list"]  # `run` is never tried without `list` succeeding


async def test_a_5xx_that_the_cli_cannot_get_past_either_reports_both(
    service: OllamaService, fake: FakeOllama
) -> None:
    fake.set_fault("http_500", paths=["/api/show"])

    with pytest.raises(OllamaCLIError) as excinfo:
        await service.models.show_model("llama3.2:1b")

    message = str(excinfo.value)
    assert "HTTP 500" in message
    assert "CLI fallback failed too" in message


# -- timeouts ---------------------------------------------------------------------------------


async def test_a_stalled_stream_is_abandoned_after_the_stall_timeout(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_fault("slow", paths=["/api/generate"])
    settings = make_settings(fake_ollama.url, tmp_path, stall_timeout=0.5)
    async with service_for(settings) as service:
        with pytest.raises(GenerationInterruptedError) as excinfo:
            await service.generation.generate("llama3.2:1b", "hi")

    assert "sent nothing for 0.5 s" in str(excinfo.value)
    with anyio.fail_after(5):
        while not fake.disconnects:
            await anyio.sleep(0.01)


async def test_each_call_takes_its_own_timeout(service: OllamaService, fake: FakeOllama) -> None:
    fake.tokens_per_second = 5  # twelve tokens take seconds

    with pytest.raises(OllamaTimeoutError) as excinfo:
        await service.generation.generate("llama3.2:1b", "hi", timeout=0.3)

    assert "timeout of 0.3 s" in str(excinfo.value)
