"""create_model in the core: a model derived from an installed one with its own system prompt,
template and parameters, through /api/create; refused before the daemon when the source is not
installed (Ollama would pull it) or the name is taken (unless destructive operations are on)."""

from __future__ import annotations

from typing import Literal

import pytest
from mcp import Client

from mcp_ollama.errors import InvalidInputError, ModelNotFoundError
from mcp_ollama.events import Change
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text, ok
from tests.test_confirmations import User

pytestmark = pytest.mark.anyio

TEMPLATE = "{{ .System }}\n\nReview:\n{{ .Prompt }}"


async def test_a_created_model_carries_its_system_prompt_template_and_parameters(
    service: OllamaService, fake: FakeOllama
) -> None:
    seen: list[Change] = []
    service.changes.subscribe(seen.append)
    await service.models.list_models()  # cached, so the new model must invalidate it

    result = await service.models.create(
        "reviewer",
        "llama3.2:1b",
        system="You review Python code tersely.",
        template=TEMPLATE,
        parameters={"temperature": 0.1, "num_ctx": 8192, "stop": ["</review>"]},
    )

    assert result.message == (
        "created 'reviewer' from 'llama3.2:1b' (a system prompt, a template, 3 parameter(s))"
    )
    [request] = fake.requests_to("/api/create")
    assert request.body["from"] == "llama3.2:1b"
    created = fake.get_model("reviewer:latest")
    assert created is not None
    assert created.system == "You review Python code tersely."
    assert created.template == TEMPLATE
    assert ("num_ctx", 8192) in created.parameters
    assert ("stop", "</review>") in created.parameters
    names = [m.name for m in (await service.models.list_models()).models]
    assert "reviewer:latest" in names
    assert seen == [Change("models", ("reviewer",))]
    answer = await service.generation.generate("reviewer", "def f(): pass")
    assert answer.text


async def test_a_missing_source_is_refused_before_ollama_would_pull_it(
    service: OllamaService, fake: FakeOllama
) -> None:
    with pytest.raises(ModelNotFoundError) as excinfo:
        await service.models.create("reviewer", "llama3.2", system="x")

    assert excinfo.value.installed == ["llama3.2:1b"]
    assert fake.requests_to("/api/create") == []
    assert fake.requests_to("/api/pull") == []


async def test_creating_over_an_installed_name_needs_destructive_operations(
    service: OllamaService, fake: FakeOllama
) -> None:
    with pytest.raises(InvalidInputError, match=r"'QWEN3:0.6b'.*already exists"):
        await service.models.create("QWEN3:0.6b", "llama3.2:1b", system="x")

    assert fake.requests_to("/api/create") == []


# -- the tool ----------------------------------------------------------------------------------


async def test_create_model_is_a_models_tool_that_makes_a_usable_model(settings: Settings) -> None:
    core = settings.model_copy(update={"tools": ["core"]})
    async with Client(build_server(core)) as client:
        assert "create_model" not in {t.name for t in (await client.list_tools()).tools}
    models = settings.model_copy(update={"tools": ["models", "generate_text"]})
    async with Client(build_server(models)) as client:
        result = await client.call_tool(
            "create_model",
            {"name": "terse", "model": "llama3.2:1b", "system": "Answer in five words.",
             "parameters": {"temperature": 0.1, "num_predict": 32}},
        )  # fmt: skip
        answer = await client.call_tool("generate_text", {"model": "terse", "prompt": "Why?"})

    assert ok(result)["message"] == (
        "created 'terse' from 'llama3.2:1b' (a system prompt, 2 parameter(s))"
    )
    assert ok(answer)["text"]


async def test_an_unknown_parameter_is_refused_before_the_daemon_with_the_valid_ones(
    settings: Settings, fake: FakeOllama
) -> None:
    models = settings.model_copy(update={"tools": ["models"]})
    async with Client(build_server(models)) as client:
        result = await client.call_tool(
            "create_model",
            {"name": "terse", "model": "llama3.2:1b", "parameters": {"temprature": 0.1}},
        )

    text = error_text(result)
    assert "unknown option(s) in parameters: temprature" in text
    assert "temperature" in text.split("Valid options:")[1]
    assert fake.requests_to("/api/create") == []


async def test_replacing_a_model_through_the_tool_needs_consent_or_destructive_operations(
    settings: Settings, fake: FakeOllama
) -> None:
    models = settings.model_copy(update={"tools": ["models"]})
    async with Client(build_server(models)) as client:  # a client that cannot ask its user
        result = await client.call_tool(
            "create_model", {"name": "qwen3:0.6b", "model": "llama3.2:1b", "system": "x"}
        )

    assert "already exists" in error_text(result)
    assert fake.requests_to("/api/create") == []


@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_creating_over_an_installed_model_asks_the_user_and_only_an_accept_creates(
    settings: Settings, fake: FakeOllama, action: Literal["accept", "decline"]
) -> None:
    fake.add_model("mine:1b", size=2_000_000_000)
    user = User(action)
    models = settings.model_copy(update={"tools": ["models"]})
    async with Client(build_server(models), elicitation_callback=user) as client:  # type: ignore[arg-type]
        result = await client.call_tool(
            "create_model", {"name": "mine:1b", "model": "llama3.2:1b", "system": "x"}
        )

    [question] = user.questions
    assert "Replace the model 'mine:1b' (2.0 GB) with a new model made from 'llama3.2:1b'?" in (
        question
    )
    assert result.is_error is (action != "accept")
    assert len(fake.requests_to("/api/create")) == (1 if action == "accept" else 0)
