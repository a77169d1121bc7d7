"""Imported presets and per-model options written to the config file, the user's comments and
formatting kept (tomlkit); exports written by a plain TOML writer (tomli-w) that round-trips."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.errors import InvalidInputError
from mcp_ollama.generation.config_file import persist_tables
from mcp_ollama.generation.presets_config import parse_config, to_toml
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.mcp_helpers import block_text, ok

USER_FILE = """\
# My settings: keep the daemon on the workstation.
host = "127.0.0.1:11434"   # the workstation

[presets.terse]   # short answers
temperature = 0.2

# per-model options
[models."qwen3:0.6b"]
num_ctx = 4096
"""


def test_persisting_keeps_every_comment_and_replaces_only_what_was_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(USER_FILE, encoding="utf-8")
    os.chmod(config, 0o640)

    persist_tables(
        config,
        {"terse": {"temperature": 0.1, "num_predict": 64}, "review": {"description": "code"}},
        {"llama3.2:1b": {"num_ctx": 8192, "stop": ["</r>"]}},
    )

    text = config.read_text(encoding="utf-8")
    for line in USER_FILE.splitlines():
        if line and not line.startswith("temperature"):
            assert line in text  # comments, settings and unrelated tables as written
    data = tomllib.loads(text)
    assert data["presets"]["terse"] == {"temperature": 0.1, "num_predict": 64}
    assert data["presets"]["review"] == {"description": "code"}
    assert data["models"] == {"qwen3:0.6b": {"num_ctx": 4096}, "llama3.2:1b": {"num_ctx": 8192,
                              "stop": ["</r>"]}}  # fmt: skip
    assert os.stat(config).st_mode & 0o777 == 0o640
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))
    assert Settings().presets["review"] == {"description": "code"}  # the server reads it back


def test_a_missing_config_file_is_created(tmp_path: Path) -> None:
    config = tmp_path / "new" / "config.toml"

    persist_tables(config, {"terse": {"temperature": 0.2}}, {})

    assert tomllib.loads(config.read_text(encoding="utf-8")) == {
        "presets": {"terse": {"temperature": 0.2}}
    }


def test_a_linked_config_file_stays_a_link_to_the_updated_file(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "mcp-ollama.toml"
    real.parent.mkdir()
    real.write_text("# mine\n", encoding="utf-8")
    link = tmp_path / "linked.toml"
    link.symlink_to(real)

    persist_tables(link, {}, {"llama3.2:1b": {"num_ctx": 8192}})

    assert link.is_symlink()
    assert real.read_text(encoding="utf-8").startswith("# mine\n")
    assert "num_ctx = 8192" in real.read_text(encoding="utf-8")


def test_a_config_file_that_does_not_parse_is_left_alone(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("host = \n", encoding="utf-8")

    with pytest.raises(InvalidInputError, match=r"not valid TOML.*nothing was written"):
        persist_tables(config, {"terse": {"temperature": 0.2}}, {})

    assert config.read_text(encoding="utf-8") == "host = \n"


def test_an_export_round_trips_through_the_toml_writer() -> None:
    data = {
        "presets": {"odd name": {"description": 'say "hi"\n', "stop": ["\x7f", "\n"]}},
        "models": {"hf.co/x/y:Q4_K_M": {"num_ctx": 8192, "temperature": 0.5}},
    }

    text = to_toml(data)

    assert text.startswith("# mcp-ollama configuration")
    assert parse_config(text) == data


@pytest.mark.anyio
async def test_import_config_with_persist_survives_a_restart_and_keeps_the_users_comments(
    settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"  # the file the server reads (see conftest)
    config.write_text(USER_FILE.replace('host = "127.0.0.1:11434"', "# no host"), encoding="utf-8")
    imported = '[presets.review]\ntemperature = 0.1\n\n[models."llama3.2:1b"]\nnum_ctx = 8192\n'

    async with Client(build_server(settings)) as client:
        kept = ok(await client.call_tool("import_config", {"content": imported, "persist": True}))
        fleeting = ok(await client.call_tool("import_config", {"content": "[presets.x]\n"}))

    assert kept["message"].endswith(f"saved to {config}")
    assert "persist=true saves them" in fleeting["message"]
    assert "# per-model options" in config.read_text(encoding="utf-8")
    restarted = settings.model_copy(update=Settings().model_dump(include={"presets", "models"}))
    async with Client(build_server(restarted)) as client:
        presets = await client.read_resource("presets://review")
    assert '"temperature":0.1' in block_text(presets.contents[0])
    assert restarted.models["llama3.2:1b"] == {"num_ctx": 8192}
    assert "x" not in restarted.presets
