"""Errors say what actually happened, then the one next step that fits: a failing daemon is not
a stopped one, a dropped stream is not a refused connection, an unknown host name is not a
refused connection, a cut download says how to resume it, and a server that is not Ollama is
named as such."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_ollama.errors import (
    GenerationInterruptedError,
    NotOllamaError,
    OllamaConnectionError,
    OllamaHostNotFoundError,
    OllamaResponseError,
    PullInterruptedError,
)
from mcp_ollama.fleet.health import check_health
from mcp_ollama.ollama.client import OllamaClient
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import free_port
from tests.not_ollama import serve_not_ollama
from tests.resilience_helpers import make_settings, service_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def other_server() -> Iterator[str]:
    """The address of a web server that is not Ollama, on loopback."""
    with serve_not_ollama() as address:
        yield address


async def test_a_500_from_a_running_daemon_without_a_cli_is_not_called_not_running(
    fake_ollama: FakeServerHandle,
    fake: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `ollama` executable for the CLI fallback
    fake.set_fault("http_500", paths=["/api/generate"])
    async with service_for(make_settings(fake_ollama.url, tmp_path)) as service:
        with pytest.raises(OllamaResponseError) as excinfo:
            await service.generation.generate("llama3.2:1b", "hi")

    message = str(excinfo.value)
    assert "HTTP 500" in message
    assert "failure inside Ollama: call again" in message
    assert "not running" not in message
    assert "executable" not in message


async def test_a_stream_dropped_mid_answer_says_call_again_without_start_it(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_fault("drop_mid_stream", paths=["/api/generate"])
    settings = make_settings(fake_ollama.url, tmp_path, cli_fallback=False)
    async with service_for(settings) as service:
        with pytest.raises(GenerationInterruptedError) as excinfo:
            await service.generation.generate("llama3.2:1b", "hi")

    message = str(excinfo.value)
    assert "closed the connection before the response was complete" in message
    assert message.endswith("Call the tool again to retry.")
    assert "ollama serve" not in message
    assert "cannot connect" not in message


async def test_a_download_cut_mid_stream_says_where_it_was_cut_and_to_pull_again(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_fault("drop_mid_stream", paths=["/api/pull"])
    settings = make_settings(fake_ollama.url, tmp_path, cli_fallback=False)
    async with service_for(settings) as service:
        with pytest.raises(PullInterruptedError) as excinfo:
            await service.models.pull("tinyllama")

    message = str(excinfo.value)
    assert message.startswith("the download of 'tinyllama' was cut after ")
    assert "closed the connection before the response was complete" in message
    assert message.endswith(
        "Call pull_model again to resume it: the layers already downloaded are kept."
    )
    assert "is Ollama running" not in message
    assert "Pull it again to resume" in excinfo.value.for_person()


async def test_a_host_name_that_does_not_resolve_is_not_called_connection_refused(
    tmp_path: Path,
) -> None:
    settings = make_settings("http://no-such-ollama.invalid:11434", tmp_path, max_retries=3)
    async with OllamaClient.from_settings(settings) as client:
        with pytest.raises(OllamaHostNotFoundError) as excinfo:
            await client.list_models()

    message = str(excinfo.value)
    assert "'no-such-ollama.invalid'" in message
    assert "does not resolve" in message
    assert "connection refused" not in message
    assert "check its spelling" in message


async def test_a_refused_connection_is_still_called_refused(tmp_path: Path) -> None:
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, max_retries=0)
    async with OllamaClient.from_settings(settings) as client:
        with pytest.raises(OllamaConnectionError, match=r"\(connection refused\): is Ollama"):
            await client.list_models()


async def test_a_server_that_is_not_ollama_is_named_with_a_hint_about_the_address(
    other_server: str, tmp_path: Path, fake_cli: object
) -> None:
    # Auto-start on, and a binary at hand: the port is taken, so starting Ollama cannot help.
    settings = make_settings(other_server, tmp_path, auto_start=True)
    async with service_for(settings) as service:
        with pytest.raises(NotOllamaError) as excinfo:
            await service.generation.generate("llama3.2:1b", "hi")
        report = await check_health(settings, service.fleet)

    message = str(excinfo.value)
    assert "HTTP 404 (Not Found)" in message
    assert "not an Ollama answer: check that OLLAMA_HOST points at Ollama" in message
    assert "<html" not in message.lower()
    assert service.fleet.primary.daemon.starts == 0
    assert report.problems == [message]


async def test_ollamas_own_404_for_a_missing_route_suggests_an_update(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    async with OllamaClient.from_settings(make_settings(fake_ollama.url, tmp_path)) as client:
        with pytest.raises(NotOllamaError, match=r"has no /api/nothing endpoint.*update Ollama"):
            await client._read("GET", "/api/nothing")
