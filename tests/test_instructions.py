"""The instructions every agent receives on connecting: short, accurate (delegation by file path,
the enabled tools), and hosts only when there are several."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.server.instructions import MAX_INSTRUCTIONS
from mcp_ollama.settings import Settings
from tests.fleet_helpers import fake_fleet

pytestmark = pytest.mark.anyio


async def test_instructions_mention_files_by_path_and_no_hosts_with_one_host(
    settings: Settings,
) -> None:
    async with Client(build_server(settings), mode="legacy") as client:
        text = client.instructions

    assert text is not None
    assert "`files`" in text
    assert "the server reads them" in text
    assert "list_local_models" in text
    assert "host" not in text.lower()
    assert len(text) <= MAX_INSTRUCTIONS


async def test_instructions_with_several_hosts_say_how_calls_are_routed_within_the_budget(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path) as fleet:
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            text = client.instructions

    assert text is not None
    assert "Several Ollama hosts act as one" in text
    assert "`host` pins one" in text
    assert len(text) <= MAX_INSTRUCTIONS


async def test_instructions_name_only_enabled_tools(tmp_path: Path) -> None:
    only = Settings(data_dir=tmp_path / "data", tools=["embed"])
    async with Client(build_server(only), mode="legacy") as client:
        text = client.instructions

    assert text == "Local language models served by Ollama. Errors say what to do next."
