"""Prompts and resource templates registered without building their argument models at start
(issue 12 item 6) are listed exactly as the SDK's own registration lists them, and are built on
their first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer

from mcp_ollama.server import build_server
from mcp_ollama.server.registration import FirstCallValidated
from mcp_ollama.server.resources import PRESET_TEMPLATE
from mcp_ollama.settings import Settings

pytestmark = pytest.mark.anyio


def _sdk_server(ours: MCPServer[Any]) -> MCPServer[Any]:
    """A plain `MCPServer` with our prompts and templates registered the SDK's way."""
    plain: MCPServer[Any] = MCPServer("plain")
    for prompt in ours._prompt_manager.list_prompts():
        assert isinstance(prompt.fn, FirstCallValidated)
        plain.prompt(prompt.name, title=prompt.title, description=prompt.description)(prompt.fn.fn)
    for template in ours._resource_manager.list_templates():
        assert isinstance(template.fn, FirstCallValidated)
        plain.resource(
            template.uri_template,
            name=template.name,
            title=template.title,
            description=template.description,
            mime_type=template.mime_type,
            icons=template.icons,
            annotations=template.annotations,
            meta=template.meta,
            security=template.security,
        )(template.fn.fn)
    return plain


async def test_prompts_and_templates_list_as_the_sdk_lists_them(tmp_path: Path) -> None:
    ours = build_server(Settings(data_dir=tmp_path))
    plain = _sdk_server(ours)
    prompts = ours._prompt_manager.list_prompts()
    templates = ours._resource_manager.list_templates()
    assert prompts
    assert all(isinstance(prompt.fn, FirstCallValidated) for prompt in prompts)
    assert templates
    assert all(isinstance(template.fn, FirstCallValidated) for template in templates)
    assert await ours.list_prompts() == await plain.list_prompts()
    assert await ours.list_resource_templates() == await plain.list_resource_templates()
    sdk_prompts = {prompt.name: prompt for prompt in plain._prompt_manager.list_prompts()}
    for prompt in prompts:
        assert prompt.context_kwarg == sdk_prompts[prompt.name].context_kwarg


async def test_prompts_and_templates_answer_as_the_sdk_built_ones_do(tmp_path: Path) -> None:
    ours = build_server(Settings(data_dir=tmp_path))
    plain = _sdk_server(ours)
    arguments = {"files": "src/*.py", "style": "two lines"}
    answers = []
    for server in (ours, plain):
        async with Client(server) as client:
            prompt = await client.get_prompt("summarize", arguments)
            with pytest.raises(MCPError) as missing:
                await client.get_prompt("summarize", {"style": "two lines"})
            preset = await client.read_resource("presets://fast")
            with pytest.raises(MCPError) as unknown:
                await client.read_resource("presets://no-such-preset")
            # Everything but `_meta`, which names the server.
            answers.append(
                (
                    prompt.model_dump(exclude={"meta"}),
                    str(missing.value),
                    preset.model_dump(exclude={"meta"}),
                    str(unknown.value),
                )
            )
    assert answers[0] == answers[1]
    templates = ours._resource_manager.list_templates()
    assert [t.uri_template for t in templates if _validating(t.fn)] == [PRESET_TEMPLATE]
    assert [p.name for p in ours._prompt_manager.list_prompts() if _validating(p.fn)] == [
        "summarize"
    ]


async def test_building_the_server_builds_no_prompt_or_template(tmp_path: Path) -> None:
    ours = build_server(Settings(data_dir=tmp_path))
    async with Client(ours) as client:
        await client.list_prompts()
        await client.list_resource_templates()
    assert not any(_validating(prompt.fn) for prompt in ours._prompt_manager.list_prompts())
    assert not any(_validating(t.fn) for t in ours._resource_manager.list_templates())


def _validating(fn: object) -> bool:
    """Whether a registered function's validating wrapper has been built."""
    assert isinstance(fn, FirstCallValidated)
    return fn.validated is not None
