"""Hostile arguments for every tool, through in-memory clients in both protocol eras: every call
ends in a tool result or a protocol error within a bound, some calls get past validation and do
real work, the server keeps serving, and nothing is written outside the data directory (nor
inside it, under any name the server did not choose). The strategies and the harness are in
tests/fuzz_helpers.py.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from mcp.types import CallToolResult

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama
from tests.fuzz_helpers import bounded_call, fuzz_tool, portal_clients


def snapshot(root: Path, skip: Path) -> set[str]:
    """Every path under `root` (relative), except what lies under `skip`."""
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path != skip and skip not in path.parents
    }


DATA_ENTRIES = re.compile(
    r"^(sessions\.db(-wal|-shm|-journal)?"
    r"|cache|cache/\.?models-[0-9a-f]{16}\.json[.\w-]*"
    r"|reports|reports/\.?(bench|compare)-\d{8}-\d{6}-[0-9a-f]{6}\.(json|md|svg|html)[.\w-]*"
    r"|outputs|outputs/\.?output-\d{8}-\d{6}-[0-9a-f]{6}\.json[.\w-]*"
    r"|configs|configs/\.?config-\d{8}-\d{6}-[0-9a-f]{6}\.(toml|json)[.\w-]*"
    r"|\.?imported-config\.toml[.\w-]*"
    r"|logs|skills|\.health-check[\w.-]*)$"
)


def assert_data_dir_clean(data_dir: Path) -> None:
    """Only the files the server names itself, in their own folders."""
    if not data_dir.exists():
        return
    unexpected = [
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if not DATA_ENTRIES.fullmatch(path.relative_to(data_dir).as_posix())
    ]
    assert unexpected == []


def test_every_tool_answers_hostile_arguments_with_a_result_or_protocol_error(
    settings: Settings, fake: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings.model_copy(update={"allow_destructive": True})
    data_dir = configured.data_dir
    # A relative path or a `~` built from input would land in these, inside the snapshot.
    for name in ("cwd", "home"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = snapshot(tmp_path, data_dir)
    with portal_clients(configured) as (portal, clients):
        tools = portal.call(clients["auto"].list_tools).tools
        assert len(tools) > 20  # an empty or half-registered server must not pass as "safe"

        outcomes: dict[str, Counter[str]] = {}
        for tool in tools:
            fake.reset()  # an earlier tool's fuzz may have deleted or replaced the models
            fake.tokens_per_second = 0  # as fast as possible: the fuzz is about input, not speed
            fake.max_answer_tokens = 64  # a valid num_predict of 32768 must not time out
            outcomes[tool.name] = fuzz_tool(portal, clients, tool, examples=25)
        # The strategies reach past validation: some hostile-looking calls do real work.
        assert sum(count["ok"] for count in outcomes.values()) > len(tools)
        # ... and every tool with required arguments refused some of what it got.
        never_refused = {
            name for name, count in outcomes.items() if count["ok"] == sum(count.values())
        }
        assert not never_refused & {t.name for t in tools if t.input_schema.get("required")}

        fake.reset()  # the fuzz may have deleted or copied over the models

        # The server still serves an ordinary call in both eras.
        for client in clients.values():
            for name, arguments in [
                ("list_local_models", {}),
                ("generate_text", {"model": "llama3.2:1b", "prompt": "still there?"}),
            ]:
                outcome = portal.call(bounded_call, client, name, arguments)
                assert isinstance(outcome, CallToolResult)
                assert not outcome.is_error, outcome.content
    assert snapshot(tmp_path, data_dir) == before
    assert_data_dir_clean(data_dir)
