"""The task skills shipped with the package: each sends exactly its documented system prompt, is
listed with the user's own, and gives way to a user skill of the same name."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.generation.skills import BUILTIN_SKILLS
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, ok

pytestmark = pytest.mark.anyio

MODEL = "llama3.2:1b"
PACKAGED = Path(__file__).parents[1] / "mcp_ollama" / "generation" / "builtin_skills"
DOCS = Path(__file__).parents[1] / "docs" / "delegation.md"


def test_the_six_task_skills_are_shipped_short_and_documented_word_for_word() -> None:
    assert BUILTIN_SKILLS == (
        "code_review",
        "commit_message",
        "explain",
        "extract",
        "summarize",
        "test_ideas",
    )
    docs = DOCS.read_text(encoding="utf-8")
    for name in BUILTIN_SKILLS:
        text = (PACKAGED / f"{name}.md").read_text(encoding="utf-8").strip()
        assert len(text) < 800, name
        assert f"### `{name}`\n\n````markdown\n{text}\n````" in docs, name


async def test_each_built_in_skill_produces_its_documented_system_prompt(
    settings: Settings, fake: FakeOllama
) -> None:
    async with Client(build_server(settings)) as client:
        for name in BUILTIN_SKILLS:
            arguments = {"model": MODEL, "prompt": "go", "skills": [name], "system": "Be kind."}
            ok(await client.call_tool("generate_text", arguments))
    sent = [r.body["system"] for r in fake.requests_to("/api/generate")]
    expected = [
        (PACKAGED / f"{name}.md").read_text(encoding="utf-8").strip() + "\n\n---\n\nBe kind."
        for name in BUILTIN_SKILLS
    ]
    assert sent == expected


async def test_built_in_skills_are_listed_with_the_users_and_a_user_skill_overrides_one(
    settings: Settings, fake: FakeOllama
) -> None:
    skills_dir = settings.effective_skills_dir
    skills_dir.mkdir(parents=True)
    (skills_dir / "summarize.md").write_text("# Mine\n\nThree words only.\n", encoding="utf-8")
    (skills_dir / "terse.md").write_text("# Terse\n", encoding="utf-8")
    async with Client(build_server(settings)) as client:
        listed = ok(await client.call_tool("list_skills", {}))["skills"]
        text = block_text((await client.call_tool("list_skills", {})).content[0])
        ok(
            await client.call_tool(
                "generate_text", {"model": MODEL, "prompt": "x", "skills": ["summarize"]}
            )
        )
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
    flags = {s["name"]: s["builtin"] for s in listed}
    assert flags == {**dict.fromkeys(BUILTIN_SKILLS, True), "summarize": False, "terse": False}
    assert "summarize: Mine\n" in text
    assert "explain: What code or text does and why, for someone new to it (built-in)" in text
    assert fake.requests_to("/api/generate")[0].body["system"] == "# Mine\n\nThree words only."
    assert {f"skills://{name}" for name in BUILTIN_SKILLS} <= resources
