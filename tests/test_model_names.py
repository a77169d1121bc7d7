"""One name rule everywhere, Ollama's: a bare name means `:latest`. With only `llama3.2:1b`
installed, `llama3.2` is missing for check_health, doctor and generation alike, and every
message names the installed variant instead of advising a different, larger pull."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.cli import doctor as cli_doctor
from mcp_ollama.errors import ModelNotFoundError
from mcp_ollama.fleet import Fleet
from mcp_ollama.fleet.health import check_health
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text
from tests.test_cli_bench import run_cli

# The fake's default models: qwen3:0.6b, llama3.2:1b, nomic-embed-text:latest.


@pytest.mark.anyio
async def test_check_health_counts_a_bare_default_model_missing_and_names_the_variant(
    settings: Settings, ollama: OllamaClient
) -> None:
    bare = settings.model_copy(update={"default_model": "llama3.2"})

    report = await check_health(bare, Fleet.from_settings(bare, client=ollama))

    assert report.default_model_present is False
    assert not report.healthy
    [problem] = report.problems
    assert "installed: llama3.2:1b" in problem
    assert "ollama pull llama3.2:latest" in problem


def test_doctor_names_the_installed_variant_in_words_for_a_person(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = settings.model_copy(update={"default_model": "llama3.2"})

    code = cli_doctor.run(argparse.Namespace(json=False), bare)

    out = capsys.readouterr().out
    assert code == 1
    assert "installed: llama3.2:1b" in out
    assert "`ollama pull llama3.2:latest`" in out
    # Advice for a person names the command, not the tool (the tools line lists pull_model).
    advice = [line for line in out.splitlines() if line.startswith("  - ")]
    assert advice
    assert not [line for line in advice if "pull_model" in line]


@pytest.mark.anyio
async def test_generating_with_a_bare_name_names_the_installed_variants(
    settings: Settings, fake: FakeOllama
) -> None:
    fake.add_model("llama3.2:3b")
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_text", {"model": "llama3.2", "prompt": "hi"})

    text = error_text(result)
    assert "installed: llama3.2:3b, llama3.2:1b;" in text  # newest first, as Ollama lists them
    assert "pass one of those, or call pull_model with model='llama3.2:latest'" in text


@pytest.mark.anyio
@pytest.mark.parametrize("call", ["show", "chat", "embed"])
async def test_every_model_call_names_the_variants_of_a_missing_bare_name(
    service: OllamaService, call: str
) -> None:
    calls = {
        "show": lambda: service.models.show_model("llama3.2"),
        "chat": lambda: service.generation.chat(
            "llama3.2", [ChatMessage(role="user", content="hi")]
        ),
        "embed": lambda: service.generation.embed("llama3.2", "hi"),
    }
    with pytest.raises(ModelNotFoundError) as excinfo:
        await calls[call]()

    assert excinfo.value.installed == ["llama3.2:1b"]
    assert "installed: llama3.2:1b; pass that" in str(excinfo.value)
    assert "`ollama pull llama3.2:latest`" in excinfo.value.for_person()


@pytest.mark.anyio
async def test_a_missing_tagged_name_lists_no_other_variants(service: OllamaService) -> None:
    with pytest.raises(ModelNotFoundError) as excinfo:
        await service.generation.generate("llama3.2:3b", "hi")

    assert excinfo.value.installed == []
    assert "call pull_model with model='llama3.2:3b'" in str(excinfo.value)


def test_bench_of_a_bare_name_tells_a_person_what_is_installed(
    settings: Settings, tmp_path: Path
) -> None:
    done = run_cli("bench", "llama3.2", "--runs", "1", url=settings.base_url, tmp_path=tmp_path)

    assert done.returncode == 1
    assert "installed: llama3.2:1b; pass that, or pull it with `ollama pull llama3.2:latest`" in (
        done.stderr
    )
    assert "pull_model" not in done.stderr
