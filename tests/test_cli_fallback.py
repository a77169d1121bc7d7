"""The `ollama` CLI fallback, run for real: the fake `ollama` on a temporary PATH talks to the
fake daemon over loopback HTTP, exactly as the Go CLI would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_ollama.errors import (
    InvalidModelNameError,
    ModelNotFoundError,
    OllamaCLIError,
    OllamaStartupError,
)
from mcp_ollama.ollama.cli_fallback import OllamaCLI
from mcp_ollama.ollama.cli_output import parse_list, parse_size, terminal_lines
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle

pytestmark = pytest.mark.anyio


@pytest.fixture
def cli(fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path) -> OllamaCLI:
    return OllamaCLI(Settings(host=fake_ollama.url, data_dir=tmp_path / "data", cli_timeout=30))


async def test_list_parses_names_ids_and_sizes_with_spaces(
    cli: OllamaCLI, fake: FakeOllama
) -> None:
    listed = await cli.list_models()

    assert listed.served_by == "cli"
    assert [m.name for m in listed.models] == [m.name for m in fake.models]
    by_name = {m.name: m for m in listed.models}
    assert by_name["llama3.2:1b"].size_bytes == 1_300_000_000
    assert by_name["llama3.2:1b"].digest == "baf6a787fdff"
    assert by_name["nomic-embed-text:latest"].modified_at == "3 weeks ago"


def test_list_parsing_survives_padding_escape_codes_and_cloud_stubs() -> None:
    output = (
        "\x1b[?25lNAME                        ID              SIZE      MODIFIED     \n"
        "gpt-oss:120b-cloud          569662207105    -         5 days ago      \n"
        "qwen2.5-coder:32b           b92d6a0bd47e    19 GB     About a minute ago    \n"
        "hf.co/org/Model-GGUF:Q4_K_M 0123456789ab    4.7 GB    Less than a second ago    \n"
    )
    rows = parse_list(output)

    assert [(m.name, m.size_bytes, m.modified_at) for m in rows] == [
        ("gpt-oss:120b-cloud", 0, "5 days ago"),
        ("qwen2.5-coder:32b", 19_000_000_000, "About a minute ago"),
        ("hf.co/org/Model-GGUF:Q4_K_M", 4_700_000_000, "Less than a second ago"),
    ]
    assert parse_list("NAME    ID    SIZE    MODIFIED \n") == []
    assert parse_size("1.5 KB") == 1500


def test_spinner_and_escape_codes_are_stripped_from_terminal_output() -> None:
    stderr = "\x1b[?2026h\x1b[1G⠋ \x1b[K\x1b[?2026l\x1b[1G⠙ \x1b[K\r\x1b[2KError: boom\n"

    assert terminal_lines(stderr) == ["Error: boom"]


async def test_show_parses_the_default_output(cli: OllamaCLI) -> None:
    info = await cli.show("llama3.2:1b")

    assert info.served_by == "cli"
    assert (info.family, info.parameter_size, info.quantization) == ("llama", "1.2B", "Q8_0")
    assert (info.context_length, info.embedding_length) == (131072, 2048)
    assert info.capabilities == ["completion", "tools"]
    assert 'stop "<|eot_id|>"' in info.parameters
    assert info.license.startswith("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT")


async def test_show_of_a_missing_model_says_to_pull_it(cli: OllamaCLI) -> None:
    with pytest.raises(ModelNotFoundError) as excinfo:
        await cli.show("nope:1b")

    assert "pull_model" in str(excinfo.value)


async def test_generate_sends_the_prompt_on_stdin_and_strips_the_trailing_blank_line(
    cli: OllamaCLI, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    fake.script_response("Blue light scatters more.\nThat is all.")
    prompt = "-v why is the sky blue?\nAnswer briefly."
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    result = await cli.generate("llama3.2:1b", prompt, on_progress=on_progress)

    assert result.served_by == "cli"
    assert result.text == "Blue light scatters more.\nThat is all."
    # The prompt reached the daemon intact (a leading '-' is not a flag), and never via argv.
    assert fake.requests_to("/api/generate")[-1].body["prompt"] == prompt
    run = next(call for call in fake_cli.calls() if call[0] == "run")
    assert run == ["run", "llama3.2:1b", "--nowordwrap", "--hidethinking"]
    assert seen
    assert seen == sorted(seen)


async def test_generate_passes_format_think_and_keep_alive_as_flags(
    cli: OllamaCLI, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    await cli.generate("qwen3:0.6b", "hi", format="json", think="low", keep_alive=0)

    run = next(call for call in fake_cli.calls() if call[0] == "run")
    flags = ["--nowordwrap", "--hidethinking", "--format", "json", "--think=low", "--keepalive"]
    assert run[2:] == [*flags, "0s"]
    body = fake.requests_to("/api/generate")[-1].body
    assert (body["format"], body["think"], body["keep_alive"]) == ("json", "low", "0s")


async def test_chat_answers_the_last_user_turn(cli: OllamaCLI, fake: FakeOllama) -> None:
    fake.script_response("Paris.")
    messages = [
        ChatMessage(role="system", content="Be terse."),
        ChatMessage(role="user", content="Capital of Italy?"),
        ChatMessage(role="assistant", content="Rome."),
        ChatMessage(role="user", content="And of France?"),
    ]

    result = await cli.chat("llama3.2:1b", messages)

    assert result.served_by == "cli"
    assert result.message.role == "assistant"
    assert result.message.content == "Paris."
    assert fake.requests_to("/api/generate")[-1].body["prompt"] == "And of France?"


async def test_run_refuses_a_model_the_cli_would_pull(
    cli: OllamaCLI, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    # Only llama3.2:1b is installed: `ollama run llama3.2` would download llama3.2:latest.
    with pytest.raises(ModelNotFoundError):
        await cli.generate("llama3.2", "hi")

    assert fake_cli.commands() == ["list"]
    assert fake.requests_to("/api/pull") == []


async def test_an_invalid_model_name_never_reaches_a_subprocess(
    cli: OllamaCLI, fake_cli: FakeCLI
) -> None:
    for name in ("--help", "-rf", "a b", "x;rm -rf /"):
        with pytest.raises(InvalidModelNameError):
            await cli.show(name)
        with pytest.raises(InvalidModelNameError):
            await cli.pull(name)

    assert fake_cli.calls() == []


async def test_pull_reports_growing_progress_from_the_bars(
    cli: OllamaCLI, fake: FakeOllama
) -> None:
    fake.pull_step_delay = 0.12
    updates: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, message))

    result = await cli.pull("tinyllama", on_progress=on_progress)

    assert (result.status, result.served_by) == ("success", "cli")
    assert result.total_bytes > 600_000_000
    assert fake.get_model("tinyllama:latest") is not None
    progress = [p for p, _ in updates]
    assert len(progress) >= 3
    assert progress == sorted(progress)
    assert updates[-1][1] == "success"


async def test_pull_of_an_unknown_model_fails_with_the_cli_message(cli: OllamaCLI) -> None:
    with pytest.raises(OllamaCLIError) as excinfo:
        await cli.pull("no-such-model")

    assert "file does not exist" in str(excinfo.value)


async def test_a_hung_cli_call_is_killed_at_the_timeout(
    fake_ollama: FakeServerHandle, fake: FakeOllama, fake_cli: FakeCLI, tmp_path: Path
) -> None:
    fake.set_fault("slow", paths=["/api/tags"])
    cli = OllamaCLI(Settings(host=fake_ollama.url, data_dir=tmp_path / "data", cli_timeout=1))

    with pytest.raises(OllamaCLIError) as excinfo:
        await cli.list_models()

    assert "did not finish within 1 s" in str(excinfo.value)


async def test_the_cli_reports_a_daemon_it_cannot_reach(fake_cli: FakeCLI, tmp_path: Path) -> None:
    cli = OllamaCLI(Settings(host="127.0.0.1:9", data_dir=tmp_path / "data"))

    with pytest.raises(OllamaCLIError) as excinfo:
        await cli.list_models()

    assert "could not reach Ollama at http://127.0.0.1:9" in str(excinfo.value)


async def test_no_binary_means_no_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    cli = OllamaCLI(Settings(data_dir=tmp_path / "data"))

    with pytest.raises(OllamaStartupError) as excinfo:
        await cli.list_models()

    assert "https://ollama.com/download" in str(excinfo.value)
