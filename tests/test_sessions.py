"""Persistent chat sessions: history kept by the server, across restarts and concurrent turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

from mcp_ollama.conversations.database import DATABASE_NAME
from mcp_ollama.errors import InvalidInputError, OllamaResponseError, StorageError
from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import effective_hints, error_text, ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def sent_messages(fake: FakeOllama) -> list[list[dict[str, Any]]]:
    return [r.body["messages"] for r in fake.requests_to("/api/chat")]


async def test_a_conversation_continues_across_a_server_restart(
    settings: Settings, fake: FakeOllama
) -> None:
    async with Client(build_server(settings)) as first:
        turn = ok(
            await first.call_tool(
                "chat",
                {
                    "model": MODEL,
                    "messages": user("My name is Ada and I like owls."),
                    "system": "You are terse.",
                    "session_id": "intro",
                },
            )
        )
    reply = turn["message"]["content"]
    assert turn["session_id"] == "intro"

    async with Client(build_server(settings)) as second:
        ok(
            await second.call_tool(
                "chat",
                {"model": MODEL, "messages": user("What is my name?"), "session_id": "intro"},
            )
        )
        stored = ok(await second.call_tool("get_session", {"session_id": "intro"}))

    assert sent_messages(fake)[-1] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "My name is Ada and I like owls."},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "What is my name?"},
    ]
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    assert [m["seq"] for m in stored["messages"]] == [1, 2, 3, 4]
    assert stored["system"] == "You are terse."


async def test_twenty_concurrent_messages_into_one_session_lose_nothing_and_keep_order(
    service: OllamaService, fake: FakeOllama
) -> None:
    results: dict[int, str] = {}

    async def send(i: int) -> None:
        result = await service.generation.chat(
            MODEL, [ChatMessage(role="user", content=f"message {i}")], session_id="busy"
        )
        assert result.session_id == "busy"
        results[i] = result.message.content

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(send, i)

    stored = (await service.sessions.get("busy")).messages
    assert len(stored) == 40
    users, replies = stored[0::2], stored[1::2]
    assert all(m.role == "user" for m in users)
    assert all(m.role == "assistant" for m in replies)
    assert sorted(m.content for m in users) == sorted(f"message {i}" for i in range(20))
    for question, answer in zip(users, replies, strict=True):
        assert answer.content == results[int(question.content.split()[1])]
    # Each request carried every earlier turn, and the store keeps the order the daemon saw.
    requests = sent_messages(fake)
    assert [len(messages) for messages in requests] == list(range(1, 40, 2))
    assert [messages[-1]["content"] for messages in requests] == [m.content for m in users]
    for messages, earlier in zip(requests, range(0, 40, 2), strict=True):
        assert [m["content"] for m in messages[:-1]] == [m.content for m in stored[:earlier]]


async def test_new_starts_a_session_under_a_generated_id(service: OllamaService) -> None:
    first = await service.generation.chat(
        MODEL, [ChatMessage(role="user", content="hi")], session_id="new"
    )
    second = await service.generation.chat(
        MODEL, [ChatMessage(role="user", content="hi")], session_id="new"
    )
    assert first.session_id
    assert second.session_id
    assert first.session_id.startswith("chat-")
    assert first.session_id != second.session_id
    listed = [s.session_id for s in (await service.sessions.list_sessions()).sessions]
    assert sorted(listed) == sorted([first.session_id, second.session_id])


async def test_the_stored_system_prompt_applies_until_a_turn_replaces_it(
    service: OllamaService, fake: FakeOllama
) -> None:
    hello = [ChatMessage(role="user", content="hello")]
    await service.generation.chat(MODEL, hello, session_id="sys", system="Answer in French.")
    await service.generation.chat(MODEL, hello, session_id="sys")
    await service.generation.chat(MODEL, hello, session_id="sys", system="Answer in German.")
    firsts = [messages[0] for messages in sent_messages(fake)]
    assert firsts == [
        {"role": "system", "content": "Answer in French."},
        {"role": "system", "content": "Answer in French."},
        {"role": "system", "content": "Answer in German."},
    ]


async def test_a_failed_turn_is_not_stored_so_it_can_be_retried(
    service: OllamaService, fake: FakeOllama
) -> None:
    await service.generation.chat(
        MODEL, [ChatMessage(role="user", content="one")], session_id="retry"
    )
    fake.set_fault("http_500", count=1, paths={"/api/chat"})
    with pytest.raises(OllamaResponseError):
        await service.generation.chat(
            MODEL, [ChatMessage(role="user", content="two")], session_id="retry"
        )
    await service.generation.chat(
        MODEL, [ChatMessage(role="user", content="two")], session_id="retry"
    )
    contents = [m.content for m in (await service.sessions.get("retry")).messages]
    assert contents[0::2] == ["one", "two"]
    assert len(contents) == 4


async def test_an_unsafe_session_id_is_refused_before_anything_is_sent(
    service: OllamaService, fake: FakeOllama
) -> None:
    with pytest.raises(InvalidInputError, match="session_id"):
        await service.generation.chat(
            MODEL, [ChatMessage(role="user", content="x")], session_id="../etc"
        )
    assert fake.requests_to("/api/chat") == []


async def test_session_tools_list_read_and_delete_a_session(
    mcp_client: Client, fake: FakeOllama
) -> None:
    started = ok(
        await mcp_client.call_tool(
            "chat", {"model": MODEL, "messages": user("Plan a trip to Lisbon"), "session_id": "new"}
        )
    )
    session_id = started["session_id"]

    listed = ok(await mcp_client.call_tool("list_sessions", {}))["sessions"]
    assert [(s["session_id"], s["title"], s["message_count"]) for s in listed] == [
        (session_id, "Plan a trip to Lisbon", 2)
    ]
    detail = ok(await mcp_client.call_tool("get_session", {"session_id": session_id}))
    assert [m["content"] for m in detail["messages"]] == [
        "Plan a trip to Lisbon",
        started["message"]["content"],
    ]
    resource = await mcp_client.read_resource(f"sessions://{session_id}")
    text = resource.contents[0]
    assert text.mime_type == "application/json"
    assert '"Plan a trip to Lisbon"' in getattr(text, "text", "")

    deleted = ok(await mcp_client.call_tool("delete_session", {"session_id": session_id}))
    assert deleted["ok"] is True
    assert ok(await mcp_client.call_tool("list_sessions", {}))["sessions"] == []
    missing = error_text(await mcp_client.call_tool("get_session", {"session_id": session_id}))
    assert "list_sessions" in missing
    with pytest.raises(MCPError) as excinfo:
        await mcp_client.read_resource(f"sessions://{session_id}")
    assert excinfo.value.code == -32602


async def test_delete_session_is_marked_destructive(mcp_client: Client) -> None:
    listed = (await mcp_client.list_tools()).tools
    tools = {tool.name: effective_hints(tool.annotations) for tool in listed}
    hints = tools["delete_session"]
    assert hints.destructive_hint is True
    assert hints.read_only_hint is False
    for name in ("list_sessions", "get_session", "get_usage"):
        assert tools[name].read_only_hint is True


async def test_a_corrupt_database_is_reported_clearly_and_the_server_keeps_serving(
    settings: Settings, mcp_client: Client
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / DATABASE_NAME).write_bytes(b"this is not sqlite" * 100)

    text = error_text(await mcp_client.call_tool("list_sessions", {}))
    assert "corrupt" in text
    assert DATABASE_NAME in text
    # Generation does not depend on the database: it still answers.
    ok(await mcp_client.call_tool("generate_text", {"model": MODEL, "prompt": "hi"}))


async def test_the_store_raises_a_storage_error_for_a_corrupt_file(tmp_path: Path) -> None:
    from mcp_ollama.conversations.database import Database
    from mcp_ollama.conversations.sessions import SessionStore

    path = tmp_path / DATABASE_NAME
    path.write_bytes(b"\x00garbage" * 512)
    database = Database(path)
    try:
        with pytest.raises(StorageError, match="corrupt"):
            await SessionStore(database).list_sessions()
    finally:
        await database.aclose()


async def test_conversations_and_saved_outputs_are_readable_by_this_user_only(
    service: OllamaService, settings: Settings
) -> None:
    result = await service.generation.chat(
        MODEL, [ChatMessage(role="user", content="private")], session_id="new"
    )
    await service.save_output("chat", result, {"model": MODEL})
    await service.aclose()  # the database checkpoints its WAL into the file

    data_dir = settings.data_dir
    assert data_dir.stat().st_mode & 0o777 == 0o700
    for path in data_dir.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path.relative_to(data_dir)} is {oct(mode)}"
    assert (data_dir / DATABASE_NAME).is_file()
    assert any((data_dir / "outputs").iterdir())
