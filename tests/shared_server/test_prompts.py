"""Prompts, the model-details resource template and argument completions, through real MCP
clients in memory.

One server and one fake daemon serve the whole module (see conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, PromptReference, ResourceTemplateReference

from mcp_ollama.server import AppState, build_server
from mcp_ollama.server.completions import completion_registry
from mcp_ollama.server.resources_models import MODEL_TEMPLATE
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text, free_port

pytestmark = pytest.mark.anyio

PROMPTS = {
    "ask_local_model",
    "compare_models_on_task",
    "summarize",
    "code_review",
    "commit_message",
    "extract",
    "explain",
    "test_ideas",
}


def prompt_text(result: object) -> str:
    messages = result.messages  # type: ignore[attr-defined]
    assert len(messages) == 1
    assert messages[0].role == "user"
    text: str = messages[0].content.text
    return text


async def test_prompts_are_listed_with_described_arguments(mcp_client: Client) -> None:
    prompts = {p.name: p for p in (await mcp_client.list_prompts()).prompts}
    assert set(prompts) >= PROMPTS
    for name in PROMPTS:
        prompt = prompts[name]
        assert prompt.description
        assert prompt.arguments
        assert all(argument.description for argument in prompt.arguments)
    ask = {a.name: a.required for a in prompts["ask_local_model"].arguments or []}
    assert ask == {"model": True, "question": True, "system": False}


async def test_ask_local_model_tells_the_assistant_which_tool_to_call(mcp_client: Client) -> None:
    text = prompt_text(
        await mcp_client.get_prompt(
            "ask_local_model",
            {"model": "llama3.2:1b", "question": "Why is the sky blue?", "system": "Be brief"},
        )
    )
    assert "generate_text(model='llama3.2:1b'" in text
    assert "system='Be brief'" in text
    assert text.endswith("Why is the sky blue?")


async def test_compare_models_on_task_uses_compare_models_when_the_server_has_it(
    mcp_client: Client,
) -> None:
    text = prompt_text(
        await mcp_client.get_prompt(
            "compare_models_on_task",
            {"model_a": "llama3.2:1b", "model_b": "qwen3:0.6b", "task": "Write a haiku"},
        )
    )
    tools = {tool.name for tool in (await mcp_client.list_tools()).tools}
    if "compare_models" in tools:
        assert "compare_models(models=['llama3.2:1b', 'qwen3:0.6b']" in text
    else:
        assert "model='llama3.2:1b'" in text
        assert "model='qwen3:0.6b'" in text
    assert text.endswith("Write a haiku")


async def test_summarize_hands_the_files_and_the_style_to_the_local_model(
    mcp_client: Client,
) -> None:
    text = prompt_text(
        await mcp_client.get_prompt(
            "summarize",
            {"model": "qwen3:0.6b", "files": "src/*.py, README.md", "style": "three bullets"},
        )
    )
    assert (
        "generate_text(model='qwen3:0.6b', prompt='Summarise these files as three bullets.', "
        "files=['src/*.py', 'README.md'], skills=['summarize'])"
    ) in text
    assert "do not open them yourself" in text


async def test_model_details_are_a_resource_template(mcp_client: Client) -> None:
    templates = (await mcp_client.list_resource_templates()).resource_templates
    (template,) = [t for t in templates if t.uri_template == MODEL_TEMPLATE]
    assert template.mime_type == "application/json"
    assert template.description


async def test_reading_a_model_resource_returns_its_details_as_json(mcp_client: Client) -> None:
    result = await mcp_client.read_resource("ollama://models/qwen3:0.6b")
    (content,) = result.contents
    assert content.mime_type == "application/json"
    details = json.loads(block_text(content))
    assert details["context_length"] == 40960
    assert "thinking" in details["capabilities"]


async def test_a_namespaced_model_resolves_without_escaping_its_slash(
    mcp_client: Client, fake: FakeOllama
) -> None:
    fake.add_model("myorg/custom:v1", context_length=8192)
    result = await mcp_client.read_resource("ollama://models/myorg/custom:v1")
    details = json.loads(block_text(result.contents[0]))
    assert details["context_length"] == 8192


async def test_a_model_that_is_not_pulled_is_a_not_found_resource(mcp_client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await mcp_client.read_resource("ollama://models/mistral:7b")
    assert raised.value.code == INVALID_PARAMS
    assert "pull_model" in str(raised.value)


async def test_model_arguments_complete_to_installed_models(mcp_client: Client) -> None:
    ask = PromptReference(type="ref/prompt", name="ask_local_model")
    result = await mcp_client.complete(ask, {"name": "model", "value": "ll"})
    assert result.completion.values == ["llama3.2:1b"]
    compare = PromptReference(type="ref/prompt", name="compare_models_on_task")
    result = await mcp_client.complete(compare, {"name": "model_b", "value": ""})
    assert result.completion.values == ["llama3.2:1b", "nomic-embed-text:latest", "qwen3:0.6b"]
    assert result.completion.total == 3
    template = ResourceTemplateReference(type="ref/resource", uri=MODEL_TEMPLATE)
    result = await mcp_client.complete(template, {"name": "name", "value": "QW"})
    assert result.completion.values == ["qwen3:0.6b"]


async def test_a_name_part_in_the_middle_also_completes(mcp_client: Client) -> None:
    ask = PromptReference(type="ref/prompt", name="ask_local_model")
    result = await mcp_client.complete(ask, {"name": "model", "value": "embed"})
    assert result.completion.values == ["nomic-embed-text:latest"]


async def test_arguments_nobody_completes_get_no_values(mcp_client: Client) -> None:
    ask = PromptReference(type="ref/prompt", name="ask_local_model")
    result = await mcp_client.complete(ask, {"name": "question", "value": "wh"})
    assert result.completion.values == []


async def test_completion_offers_nothing_rather_than_failing_when_the_daemon_is_down(
    tmp_path: Path,
) -> None:
    down = Settings(
        host=f"127.0.0.1:{free_port()}",
        data_dir=tmp_path / "data",
        auto_start=False,
        cli_fallback=False,
        max_retries=0,
    )
    async with Client(build_server(down)) as client:
        ask = PromptReference(type="ref/prompt", name="ask_local_model")
        result = await client.complete(ask, {"name": "model", "value": "l"})
    assert result.completion.values == []


async def test_other_modules_add_completers_to_the_one_handler(
    settings: Settings, fake: FakeOllama
) -> None:
    server = build_server(settings)
    seen: list[Mapping[str, str]] = []

    async def styles(state: AppState, partial: str, others: Mapping[str, str]) -> list[str]:
        seen.append(others)
        return ["one short paragraph", "three bullet points", "a tweet"]

    completion_registry(server).add("prompt", "style", styles, ref="summarize")
    async with Client(server) as client:
        ref = PromptReference(type="ref/prompt", name="summarize")
        result = await client.complete(ref, {"name": "style", "value": "t"}, {"model": "x"})
        models = await client.complete(ref, {"name": "model", "value": "qwen"})
        other = PromptReference(type="ref/prompt", name="ask_local_model")
        unrelated = await client.complete(other, {"name": "style", "value": ""})
    # Those starting with the value first, then those containing it.
    assert result.completion.values == ["three bullet points", "a tweet", "one short paragraph"]
    assert seen == [{"model": "x"}]
    assert models.completion.values == ["qwen3:0.6b"]
    assert unrelated.completion.values == []
