"""Skills: Markdown files injected before the system prompt, listed and read as resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError

from mcp_ollama.generation.skills import SKILL_SEPARATOR, join_system
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text, ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
TERSE = "# Terse\n\nAnswer in one sentence.\n"
CITE = "# Cite\n\nName your sources.\n\n"


@pytest.fixture
def skills_dir(settings: Settings) -> Path:
    directory = settings.effective_skills_dir
    directory.mkdir(parents=True)
    (directory / "terse.md").write_text(TERSE, encoding="utf-8")
    (directory / "cite.md").write_text(CITE, encoding="utf-8")
    (directory / "notes.txt").write_text("not a skill", encoding="utf-8")
    return directory


@pytest.fixture
async def client(settings: Settings, skills_dir: Path) -> Any:
    async with Client(build_server(settings)) as connected:
        yield connected


def test_the_join_format_is_skills_then_the_system_prompt_separated_by_rules() -> None:
    assert SKILL_SEPARATOR == "\n\n---\n\n"
    assert join_system(["A", "B"], "S") == "A\n\n---\n\nB\n\n---\n\nS"
    assert join_system(["  A\n\n"], None) == "A"
    assert join_system([], "S") == "S"
    assert join_system([], None) is None


async def test_generate_text_sends_the_skills_joined_before_the_system_prompt(
    client: Client, fake: FakeOllama
) -> None:
    ok(
        await client.call_tool(
            "generate_text",
            {"model": MODEL, "prompt": "hi", "system": "You help.", "skills": ["terse", "cite"]},
        )
    )
    sent = fake.requests_to("/api/generate")[-1].body
    assert sent["system"] == (
        "# Terse\n\nAnswer in one sentence."
        "\n\n---\n\n"
        "# Cite\n\nName your sources."
        "\n\n---\n\n"
        "You help."
    )


async def test_chat_puts_the_joined_skills_in_the_first_system_message(
    client: Client, fake: FakeOllama
) -> None:
    ok(
        await client.call_tool(
            "chat",
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "skills": ["cite"],
                "system": "Be kind.",
            },
        )
    )
    assert fake.requests_to("/api/chat")[-1].body["messages"] == [
        {"role": "system", "content": "# Cite\n\nName your sources.\n\n---\n\nBe kind."},
        {"role": "user", "content": "hi"},
    ]


async def test_a_session_remembers_its_skills(client: Client, fake: FakeOllama) -> None:
    for arguments in ({"skills": ["terse"]}, {}):
        ok(
            await client.call_tool(
                "chat",
                {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": "hi"}],
                    "session_id": "skilled",
                    **arguments,
                },
            )
        )
    firsts = [r.body["messages"][0] for r in fake.requests_to("/api/chat")]
    assert firsts == [{"role": "system", "content": "# Terse\n\nAnswer in one sentence."}] * 2


async def test_an_unknown_skill_is_refused_with_the_available_ones_and_nothing_is_sent(
    client: Client, fake: FakeOllama
) -> None:
    text = error_text(
        await client.call_tool("generate_text", {"model": MODEL, "prompt": "x", "skills": ["nope"]})
    )
    assert "nope" in text
    assert "cite, code_review, commit_message" in text
    assert "terse" in text
    bad = error_text(
        await client.call_tool(
            "generate_text", {"model": MODEL, "prompt": "x", "skills": ["../secret"]}
        )
    )
    assert "invalid skill name" in bad
    assert fake.requests_to("/api/generate") == []


async def test_skills_are_listed_and_read_as_resources(
    client: Client, settings: Settings, skills_dir: Path
) -> None:
    listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    assert {"skills://cite", "skills://terse"} <= set(listed)
    assert "skills://notes" not in listed
    assert listed["skills://terse"].mime_type == "text/markdown"

    content = (await client.read_resource("skills://terse")).contents[0]
    assert getattr(content, "text", None) == TERSE
    # A skill added after the server started is still readable through the template.
    (skills_dir / "later.md").write_text("Later.", encoding="utf-8")
    later = (await client.read_resource("skills://later")).contents[0]
    assert getattr(later, "text", None) == "Later."
    with pytest.raises(MCPError) as excinfo:
        await client.read_resource("skills://missing")
    assert excinfo.value.code == -32602


async def test_list_skills_describes_each_skill(client: Client, skills_dir: Path) -> None:
    listed = ok(await client.call_tool("list_skills", {}))
    assert listed["skills_dir"] == str(skills_dir)
    mine = [(s["name"], s["description"]) for s in listed["skills"] if not s["builtin"]]
    assert mine == [("cite", "Cite"), ("terse", "Terse")]
