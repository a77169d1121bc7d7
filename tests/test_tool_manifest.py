"""The tool manifest: what `tools/list` shows without building a tool at start (issue 12 item 6)
is exactly what building each tool from its function shows, and a tool is built on its first
call only."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.server.listed_tools import (
    MANIFEST,
    REGENERATE,
    ListedTool,
    built_with,
    fresh_manifest,
    listed_tools,
    manifest_text,
    read_manifest,
)
from mcp_ollama.server.output_schemas import output_schema
from mcp_ollama.server.params import DEFAULTS_TO_CONFIGURED_MODEL, SEVERAL_HOSTS_ONLY
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import TOOLS

ROOT = Path(__file__).resolve().parent.parent
STALE = f"tool_manifest.json is stale: run `{REGENERATE}` and commit the result"


def test_the_shipped_manifest_is_what_the_tools_build_today() -> None:
    made_with = read_manifest()["built_with"]
    if made_with != built_with():
        # The server ignores it then (see the next test): only the fast start is lost.
        pytest.skip(f"the manifest was made with {made_with}, not {built_with()}: {STALE}")
    assert MANIFEST.read_text(encoding="utf-8") == manifest_text(fresh_manifest()), STALE


def test_a_manifest_made_with_other_library_versions_is_ignored(tmp_path: Path) -> None:
    other = read_manifest()
    other["built_with"] = {**other["built_with"], "pydantic": "2.0.0"}
    other["tools"]["chat"]["description"] = "a schema pydantic 2.0.0 wrote"
    path = tmp_path / "tool_manifest.json"
    path.write_text(json.dumps(other), encoding="utf-8")

    listed = {tool.name: tool for tool in listed_tools(Settings(data_dir=tmp_path), path)}

    assert listed["chat"].description == fresh_manifest()["chat"]["description"]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"default_model": "llama3.2:1b"},
        {
            "default_model": "llama3.2:1b",
            "hosts": {"gpu": {"url": "http://127.0.0.1:9"}, "nas": {"url": "http://127.0.0.1:10"}},
        },
    ],
    ids=["one host", "default model", "several hosts"],
)
def test_each_listed_tool_shows_what_building_it_shows(
    tmp_path: Path, variant: dict[str, Any]
) -> None:
    settings = Settings(data_dir=tmp_path, tools="all", **variant)
    listed = listed_tools(settings)
    assert [tool.name for tool in listed] == list(TOOLS)
    shown = ("description", "parameters", "output_schema", "annotations", "meta", "title", "icons")
    for tool in listed:
        assert isinstance(tool, ListedTool)
        assert tool._build is not None
        built = tool._build()
        for attribute in shown:
            assert getattr(tool, attribute) == getattr(built, attribute), (tool.name, attribute)
        # And what the settings make of a tool, read off its function, not the manifest.
        several = "hosts" in variant
        result = typing.get_type_hints(built.fn)["return"]
        assert built.output_schema == output_schema(result, several_hosts=several), tool.name
        fields = built.fn_metadata.arg_model.model_fields.items()
        arguments = [
            info.alias or name
            for name, info in fields
            if several or SEVERAL_HOSTS_ONLY not in info.metadata
        ]
        assert list(built.parameters["properties"]) == arguments, tool.name
        for name, info in fields:
            if DEFAULTS_TO_CONFIGURED_MODEL in info.metadata and "default_model" in variant:
                assert name not in built.parameters.get("required", []), tool.name
                assert built.parameters["properties"][name]["default"] == "llama3.2:1b"


@pytest.mark.anyio
async def test_listing_builds_no_tool_and_a_call_builds_only_its_own(settings: Settings) -> None:
    server = build_server(settings)
    tools = {tool.name: tool for tool in server._tool_manager.list_tools()}
    async with Client(server) as client:
        assert (await client.list_tools()).tools
        assert all(isinstance(tool, ListedTool) for tool in tools.values())
        assert not any(isinstance(tool, ListedTool) and tool._built for tool in tools.values())
        for _ in range(2):
            result = await client.call_tool("list_local_models", {})
            assert not result.is_error
    built = [name for name, tool in tools.items() if isinstance(tool, ListedTool) and tool._built]
    assert built == ["list_local_models"]


def test_serving_does_not_import_the_module_that_builds_tools() -> None:
    code = (
        "import sys\n"
        "from mcp_ollama.server import build_server\n"
        "from mcp_ollama.settings import Settings\n"
        "build_server(Settings(tools='all'))\n"
        "print('mcp_ollama.server.toolbox' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "False"
