"""`timeout` covers the whole call (issue 17, finding 8): one deadline from the moment a call
starts, over auto-start, auto-pull, busy retries, waiting for a session another call is using and
waiting for another benchmark. Each call below, with `timeout=2`, ends with an error that says what
was still pending and what to do; the `fail_after` bounds only prove that nothing hangs (on the
main before this change each of them took 10 s to forever)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_ollama.deadline import call_deadline, pending
from mcp_ollama.errors import CallTimeoutError
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import error_text, free_port, ok, poll
from tests.resilience_helpers import make_settings

pytestmark = pytest.mark.anyio

BOUND = 15  # generous: it proves the call ends, never how fast
GENERATE = {"model": "llama3.2:1b", "prompt": "Say hi", "timeout": 2}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode="legacy") as connected:
        yield connected


async def test_a_daemon_that_never_starts_ends_the_call_at_its_timeout_saying_so(
    fake_cli: FakeCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OLLAMA_MODE", "never_ready")  # serve logs, never listens
    port = free_port()
    settings = make_settings(f"127.0.0.1:{port}", tmp_path, auto_start=True, cli_fallback=False)
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(BOUND):
            message = answer(await client.call_tool("generate_text", GENERATE))

    assert message == (
        "generate_text did not finish within its timeout of 2 s: it was still starting Ollama "
        f"at http://127.0.0.1:{port} (`ollama serve`). Start Ollama yourself (`ollama serve`, "
        "or the Ollama app) and call again, or pass a larger `timeout`: a first start can take "
        "a while."
    )
    assert fake_cli.commands() == ["serve"]
    assert not (settings.data_dir / "logs" / "ollama-serve.pid").exists()  # it was stopped


async def test_list_local_models_ends_at_its_timeout_or_else_at_the_startup_timeout(
    fake_cli: FakeCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OLLAMA_MODE", "never_ready")
    port = free_port()
    settings = make_settings(
        f"127.0.0.1:{port}", tmp_path, auto_start=True, cli_fallback=False, startup_timeout=1
    )
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(BOUND):
            timed = answer(await client.call_tool("list_local_models", {"timeout": 0.5}))
            default = answer(await client.call_tool("list_local_models", {}))

    assert timed.startswith(
        "list_local_models did not finish within its timeout of 0.5 s: it was still starting "
        f"Ollama at http://127.0.0.1:{port}"
    )
    # Without a timeout the wait is the documented startup_timeout, and the error says what to do.
    assert default.startswith(
        f"`ollama serve` did not answer at http://127.0.0.1:{port} within 1 s"
    )
    assert "raise MCP_OLLAMA_STARTUP_TIMEOUT, or start Ollama yourself" in default


async def test_a_slow_auto_pull_ends_the_call_at_its_timeout_and_says_to_pull_first(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.pull_hang = True
    settings = make_settings(fake_ollama.url, tmp_path, auto_pull=True, cli_fallback=False)
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(BOUND):
            result = await client.call_tool("generate_text", {**GENERATE, "model": "tinyllama"})
            await poll(lambda: "/api/pull" in fake.disconnect_paths)  # the download was closed

    assert answer(result).startswith(
        "generate_text did not finish within its timeout of 2 s: it was still downloading "
        "'tinyllama' (auto-pull). Call pull_model to download it first"
    )


async def test_a_turn_waiting_for_a_busy_session_ends_at_its_timeout_naming_the_session(
    client: Client, fake: FakeOllama
) -> None:
    first = ok(await client.call_tool("chat", chat_in("new")))
    session = first["session_id"]
    fake.generation_gate = threading.Event()  # the next turn holds the session, mid-answer
    answers: list[dict[str, object]] = []

    async def busy_turn() -> None:
        answers.append(ok(await client.call_tool("chat", chat_in(session))))

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(busy_turn)
            await poll(lambda: len(fake.requests_to("/api/chat")) == 2)
            waiting = await client.call_tool("chat", {**chat_in(session), "timeout": 2})
            fake.generation_gate.set()

    assert answer(waiting).startswith(
        "chat did not finish within its timeout of 2 s: it was still waiting for session "
        f"'{session}', which another call is using. Turns on one session run one at a time"
    )
    assert len(answers) == 1  # the turn it waited for went on and answered


async def test_busy_retries_end_at_the_calls_timeout(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_fault("http_503", paths={"/api/generate"})
    settings = make_settings(fake_ollama.url, tmp_path, cli_fallback=False, retry_backoff=10)
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(BOUND):
            message = answer(await client.call_tool("generate_text", GENERATE))

    assert message == (
        "generate_text did not finish within its timeout of 2 s: it was still waiting to retry "
        "after Ollama answered HTTP 503 (busy). Ollama is busy with other requests: call again "
        "later, or pass a larger `timeout`."
    )


async def test_a_benchmark_ends_at_its_timeout_saying_which_run_it_was_measuring(
    client: Client, fake: FakeOllama
) -> None:
    fake.tokens_per_second = 4  # 64 tokens take 16 s
    arguments = {"model": "llama3.2:1b", "max_tokens": 64, "timeout": 2}

    with anyio.fail_after(BOUND):
        result = await client.call_tool("benchmark_model", arguments)
        await poll(lambda: "/api/generate" in fake.disconnect_paths)  # the run was closed
        listed = ok(await client.call_tool("list_reports", {}))

    assert answer(result) == (
        "benchmark_model did not finish within its timeout of 2 s: it was still measuring "
        "llama3.2:1b (prompt 'short', warmup 1 of 1). Pass a larger `timeout`, fewer `runs` or "
        "`prompts`, or a smaller `max_tokens`."
    )
    assert listed["reports"] == []


async def test_a_comparison_waiting_for_another_benchmark_ends_at_its_timeout(
    client: Client, fake: FakeOllama
) -> None:
    fake.generation_gate = threading.Event()
    quick = {"prompts": ["Count"], "runs": 1, "warmup": 0, "max_tokens": 4}

    async def running() -> None:
        ok(await client.call_tool("benchmark_model", {"model": "llama3.2:1b", **quick}))

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:
            tg.start_soon(running)
            await poll(lambda: fake.requests_to("/api/generate"))
            models = ["llama3.2:1b", "qwen3:0.6b"]
            waiting = await client.call_tool(
                "compare_models", {"models": models, **quick, "timeout": 2}
            )
            fake.generation_gate.set()

    assert answer(waiting) == (
        "compare_models did not finish within its timeout of 2 s: it was still waiting for "
        "another benchmark on the same Ollama to finish (they run one at a time). Call again "
        "once it has finished, or pass a larger `timeout`."
    )
    assert len(fake.requests_to("/api/generate")) == 1  # the comparison never ran


async def test_an_enclosing_deadline_names_the_step_a_shorter_inner_one_was_in() -> None:
    async def call() -> None:
        with (
            call_deadline(0.05, "the call", "try again"),
            call_deadline(60, "a step inside"),
            pending("waiting for something", "Wait less"),
        ):
            await anyio.sleep(10)

    with pytest.raises(CallTimeoutError) as caught:
        await call()

    assert str(caught.value) == (
        "the call did not finish within its timeout of 0.05 s: it was still waiting for "
        "something. Wait less."
    )


def answer(result: CallToolResult) -> str:
    """An error result's message, without the SDK's "Error executing tool NAME: " in front."""
    return re.sub(r"^Error executing tool \w+: ", "", error_text(result))


def chat_in(session: str) -> dict[str, object]:
    return {
        "model": "llama3.2:1b",
        "messages": [{"role": "user", "content": "Hello"}],
        "session_id": session,
    }
