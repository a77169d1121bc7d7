"""Context-window management: window sizes from the daemon, estimates corrected by what the
daemon counted, and compaction (summarise or drop) that keeps the newest turns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from mcp_ollama.conversations.context_window import (
    SUMMARY_NOTE,
    ContextWindows,
    assemble,
    estimate_messages,
    prompt_limit,
)
from mcp_ollama.errors import InvalidInputError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama

pytestmark = pytest.mark.anyio

SMALL = "tiny:latest"
WINDOW = 400
SYSTEM = "You are a patient travel planner."
FILLER = "please remember these details about the itinerary we are planning together today"


def words(text: str) -> int:
    return len(text.split())


def fake_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens exactly as the fake daemon counts them for /api/chat."""
    return max(1, words(" ".join(str(m.get("content", "")) for m in messages)))


def question(turn: int) -> ChatMessage:
    return ChatMessage(role="user", content=f"turn {turn}: {FILLER}")


@pytest.fixture
def small_model(fake: FakeOllama) -> str:
    fake.add_model(SMALL, context_length=WINDOW)
    fake.add_model("summarizer:latest", context_length=8192)
    return SMALL


async def make_service(settings: Settings, client: OllamaClient, **changes: Any) -> Any:
    return OllamaService(settings.model_copy(update=changes), client)


@pytest.fixture
async def summarizing(settings: Settings, ollama: OllamaClient) -> AsyncIterator[OllamaService]:
    service = await make_service(settings, ollama, summary_model="summarizer:latest")
    yield service
    await service.aclose()


@pytest.fixture
async def dropping(settings: Settings, ollama: OllamaClient) -> AsyncIterator[OllamaService]:
    service = await make_service(settings, ollama, context_policy="drop")
    yield service
    await service.aclose()


def chat_bodies(fake: FakeOllama, model: str) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests_to("/api/chat") if r.body["model"] == model]


async def would_overflow(service: OllamaService, session_id: str, new: ChatMessage) -> bool:
    """Whether the next turn's prompt passes the threshold, by the session's own estimate."""
    state = await service.sessions.load(session_id)
    history = [m.to_chat() for m in state.active]
    prompt = assemble(SYSTEM, state.summary, [*history, new])
    limit = prompt_limit(WINDOW, service.settings.context_threshold)
    return estimate_messages(prompt, state.token_ratio) > limit


async def test_the_window_comes_from_num_ctx_the_loaded_runner_or_the_trained_length(
    ollama: OllamaClient, fake: FakeOllama
) -> None:
    fake.add_model("mid:latest", context_length=2048)
    windows = ContextWindows(ollama)
    # Not loaded: Ollama's default runtime window (4096), capped by the trained length.
    assert await windows.window("mid:latest", {}) == 2048
    assert await windows.window("llama3.2:1b", {}) == 4096
    # An explicit num_ctx is what the daemon uses, but never beyond the trained length.
    assert await windows.window("llama3.2:1b", {"num_ctx": 1024}) == 1024
    assert await windows.window("mid:latest", {"num_ctx": 8192}) == 2048
    # Once loaded, /api/ps tells the real window.
    fake.default_num_ctx = 8192
    fake.load_model("llama3.2:1b")
    assert await windows.window("llama3.2:1b", {}) == 8192


async def test_the_estimate_is_corrected_by_what_the_daemon_counted(
    summarizing: OllamaService, fake: FakeOllama, small_model: str
) -> None:
    await summarizing.generation.chat(small_model, [question(0)], system=SYSTEM, session_id="ratio")
    sent = chat_bodies(fake, small_model)[-1]["messages"]
    state = await summarizing.sessions.load("ratio")
    raw_estimate = estimate_messages([ChatMessage.model_validate(m) for m in sent])
    assert state.token_ratio == pytest.approx(fake_prompt_tokens(sent) / raw_estimate, abs=1e-3)


async def test_summarisation_triggers_at_the_threshold_and_keeps_the_newest_turns(
    summarizing: OllamaService, fake: FakeOllama, small_model: str
) -> None:
    session = "long-trip"
    for turn in range(40):
        new = question(turn)
        overflow = await would_overflow(summarizing, session, new)
        history = [m.content for m in (await summarizing.sessions.load(session)).active]
        if overflow:
            fake.script_response("SUMMARY: Ada plans a trip.", model="summarizer:latest")
        await summarizing.generation.chat(small_model, [new], system=SYSTEM, session_id=session)
        summaries = chat_bodies(fake, "summarizer:latest")
        if not overflow:
            assert summaries == [], f"summarised early, at turn {turn}"
            continue
        break
    else:
        pytest.fail("the conversation never reached the threshold")

    assert turn > 2
    assert len(summaries) == 1
    transcript = summaries[0]["messages"][-1]["content"]
    assert "turn 0:" in transcript

    sent = chat_bodies(fake, small_model)[-1]["messages"]
    assert sent[0] == {"role": "system", "content": SYSTEM}
    assert sent[1] == {"role": "system", "content": SUMMARY_NOTE + "SUMMARY: Ada plans a trip."}
    assert sent[-1] == {"role": "user", "content": new.content}
    kept = [m["content"] for m in sent[2:-1]]
    assert kept, "the newest turns must survive"
    assert kept == history[-len(kept) :]
    assert sent[2]["role"] == "user"
    assert not any(m["content"].startswith("turn 0:") for m in sent)

    stored = await summarizing.sessions.get(session)
    assert stored.summary == "SUMMARY: Ada plans a trip."
    compacted = [m for m in stored.messages if m.compacted]
    assert compacted
    assert compacted == stored.messages[: len(compacted)]
    assert stored.messages[0].content.startswith("turn 0:")
    assert stored.messages[-1].role == "assistant"

    # The summary stays with the session: the next turn still starts from it.
    await summarizing.generation.chat(small_model, [question(99)], session_id=session)
    after = chat_bodies(fake, small_model)[-1]["messages"]
    assert after[:2] == sent[:2]
    assert len(chat_bodies(fake, "summarizer:latest")) == 1
    usage = {m.model: m for m in (await summarizing.usage.report()).models}
    assert usage["summarizer:latest"].calls == 1


async def test_the_drop_policy_drops_the_oldest_turns_without_summarising(
    dropping: OllamaService, fake: FakeOllama, small_model: str
) -> None:
    for turn in range(40):
        new = question(turn)
        overflow = await would_overflow(dropping, "drops", new)
        await dropping.generation.chat(small_model, [new], system=SYSTEM, session_id="drops")
        if overflow:
            break
    else:
        pytest.fail("the conversation never reached the threshold")

    bodies = chat_bodies(fake, small_model)
    assert len(bodies) == turn + 1  # no summarisation request went to any model
    sent = bodies[-1]["messages"]
    assert sent[0] == {"role": "system", "content": SYSTEM}
    assert sent[1]["role"] == "user"
    assert not sent[1]["content"].startswith("turn 0:")
    assert sent[-1]["content"] == new.content
    stored = await dropping.sessions.get("drops")
    assert stored.summary is None
    assert stored.messages[0].compacted
    assert not stored.messages[-1].compacted


async def test_a_message_bigger_than_the_window_is_refused_with_advice(
    summarizing: OllamaService, fake: FakeOllama, small_model: str
) -> None:
    await summarizing.generation.chat(small_model, [question(0)], session_id="big")
    huge = ChatMessage(role="user", content="word " * (WINDOW * 2))
    with pytest.raises(InvalidInputError, match="num_ctx"):
        await summarizing.generation.chat(small_model, [huge], session_id="big")
    assert len(chat_bodies(fake, small_model)) == 1


async def test_a_thirty_turn_conversation_over_mcp_always_fits_the_context_window(
    mcp_client: Client, fake: FakeOllama, small_model: str
) -> None:
    for turn in range(30):
        result = await mcp_client.call_tool(
            "chat",
            {
                "model": small_model,
                "messages": [{"role": "user", "content": question(turn).content}],
                "system": SYSTEM,
                "session_id": "marathon",
            },
        )
        assert not result.is_error, result.content

    requests = [r.body for r in fake.requests_to("/api/chat")]
    turns = [body for body in requests if body["messages"][-1]["content"].startswith("turn ")]
    assert len(turns) == 30
    total_words = sum(words(question(t).content) for t in range(30))
    assert total_words > WINDOW, "the conversation must be long enough to overflow"
    for body in requests:
        assert fake_prompt_tokens(body["messages"]) <= WINDOW
    last = turns[-1]["messages"]
    assert last[0] == {"role": "system", "content": SYSTEM}
    assert last[1]["content"].startswith(SUMMARY_NOTE)
    assert last[-1]["content"] == question(29).content
    assert len(requests) > 30, "older turns were summarised by the model"
