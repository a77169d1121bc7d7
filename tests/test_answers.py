"""Lean answers and lean listings: the size budgets of issue 12, measured through real MCP
clients (sizes are deterministic), and text written for the model rather than JSON dumps."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.economy_helpers import install_models, minified, wire_size
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, ok, text_of

pytestmark = pytest.mark.anyio

LLAMA = "llama3.2:1b"


def tools_list_size(tools: list[Any]) -> int:
    return minified([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools])


async def test_the_tool_list_fits_its_budget_with_the_default_toolset_and_with_all(
    settings: Settings,
) -> None:
    default = settings.model_copy(update={"tools": ["core"]})
    everything = settings.model_copy(update={"tools": ["all"], "allow_destructive": True})
    async with Client(build_server(default)) as client:
        core = (await client.list_tools()).tools
    async with Client(build_server(everything)) as client:
        every = (await client.list_tools()).tools
    assert len(core) == 9
    assert tools_list_size(core) <= 12_000
    assert len(every) >= 25
    assert tools_list_size(every) <= 36_000


async def test_generate_text_answers_with_the_text_and_one_short_line(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.response_text = "The sky is blue because air scatters blue light the most."
    result = await mcp_client.call_tool("generate_text", {"model": LLAMA, "prompt": "Why?"})
    answer = ok(result)["text"]
    text = text_of(result)
    assert text.startswith(answer + "\n[")
    assert len(text) <= len(answer) + 200
    assert text.count("\n") == 1
    assert "llama3.2:1b" in text
    assert "tokens" in text


async def test_embed_answers_with_one_summary_line_and_the_vectors_only_structured(
    mcp_client: Client,
) -> None:
    result = await mcp_client.call_tool(
        "embed", {"model": "nomic-embed-text", "input": ["hello", "world"]}
    )
    data = ok(result)
    assert len(data["embeddings"]) == 2
    assert data["dimensions"] == 768
    text = text_of(result)
    assert len(text) <= 300
    assert "\n" not in text
    assert "2 embeddings of 768 dimensions" in text
    assert not re.search(r"\d\.\d{4}", text)


async def test_compare_models_answers_with_a_short_table_and_the_report_not_the_prompts(
    mcp_client: Client,
) -> None:
    result = await mcp_client.call_tool("compare_models", {"models": [LLAMA, "qwen3:0.6b"]})
    data = ok(result)
    text = text_of(result)
    assert len(text) <= 2_500
    assert "| model | gen tok/s |" in text
    assert f"| {LLAMA} |" in text
    assert "| qwen3:0.6b |" in text
    assert data["report_id"] in text
    for prompt in data["prompts"]:
        assert prompt["prompt"][:40] not in text
    for outcome in data["models"]:
        for response in outcome["responses"]:
            assert response["response"] not in text


async def test_benchmark_answers_with_a_table_of_medians(mcp_client: Client) -> None:
    result = await mcp_client.call_tool(
        "benchmark_model", {"model": LLAMA, "runs": 2, "warmup": 0, "prompts": ["a", "b"]}
    )
    data = ok(result)
    lines = text_of(result).splitlines()
    assert lines[1].startswith("| prompt | gen tok/s |")
    assert [line.split(" | ")[0] for line in lines[3:6]] == ["| prompt1", "| prompt2", "| all"]
    assert lines[-1].startswith(f"report {data['report_id']}")


async def test_two_hundred_models_are_listed_one_line_each_within_60_kb(
    settings: Settings, fake: FakeOllama
) -> None:
    install_models(fake, 200)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("list_local_models", {})
    models = ok(result)["models"]
    lines = text_of(result).splitlines()
    assert len(models) == 200
    assert len(lines) == 1 + 200
    assert lines[1].split()[0] == models[0]["name"]
    assert wire_size(result) <= 60_000


async def test_no_answer_is_a_json_dump_and_no_structured_field_is_null(
    settings: Settings, fake: FakeOllama
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("generate_text", {"model": LLAMA, "prompt": "hi"}),
        ("chat", {"model": LLAMA, "messages": [{"role": "user", "content": "hi"}]}),
        ("embed", {"model": "nomic-embed-text", "input": "hi"}),
        ("list_local_models", {}),
        ("show_model", {"model": LLAMA}),
        ("list_running_models", {}),
        ("pull_model", {"model": "tinyllama"}),
        ("create_model", {"name": "terse", "model": LLAMA, "system": "Be brief."}),
        ("copy_model", {"source": "tinyllama", "destination": "tiny-copy"}),
        ("delete_model", {"model": "tiny-copy"}),
        ("unload_model", {"model": LLAMA}),
        ("generate_batch", {"model": LLAMA, "prompts": ["a", "b"]}),
        ("list_skills", {}),
        ("benchmark_model", {"model": LLAMA, "runs": 1, "warmup": 0, "prompts": ["a"]}),
        ("list_reports", {}),
        ("chat", {"model": LLAMA, "messages": [{"role": "user", "content": "hi"}],
                  "session_id": "s1"}),
        ("list_sessions", {}),
        ("get_session", {"session_id": "s1"}),
        ("delete_session", {"session_id": "s1"}),
        ("get_usage", {}),
        ("check_health", {}),
        ("list_presets", {}),
        ("validate_config", {"content": "[presets.mine]\ntemperature = 0.1\n"}),
        ("export_config", {}),
        ("import_config", {"content": "[presets.mine]\ntemperature = 0.1\n"}),
    ]  # fmt: skip
    enabled = settings.model_copy(update={"allow_destructive": True})
    async with Client(build_server(enabled)) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            data = ok(result)
            text = text_of(result)
            assert text.strip(), name
            assert not text.lstrip().startswith("{"), (name, text[:80])
            # Null fields are left out (the settings check_health shows are a plain mapping).
            fields = {k: v for k, v in data.items() if k != "settings"}
            assert "null" not in json.dumps(fields).replace('"null"', ""), name
    assert listed - {name for name, _ in calls} == {"get_report", "compare_models"}


async def test_json_resources_are_compact(mcp_client: Client) -> None:
    uris = ("presets://all", "presets://fast", "ollama://models", f"ollama://models/{LLAMA}",
            "reports://list", "usage://summary")  # fmt: skip
    for uri in uris:
        contents = (await mcp_client.read_resource(uri)).contents
        text = block_text(contents[0])
        assert "\n" not in text, uri
        assert json.loads(text), uri
