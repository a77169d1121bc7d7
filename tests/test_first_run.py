"""What a new user meets first: a license, install lines that work from a clone (nothing
invented), and a server that says what it is waiting for when started by hand in a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import anyio
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_project_ships_an_mit_license_for_its_contributors() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 mcp-ollama contributors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "LICENSE" in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_no_install_line_or_project_url_names_a_repository_that_does_not_exist() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "urls" not in project["project"]  # there is no public repository to point at
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "git+" not in readme
    assert not re.search(r"https://github\.com/[^)\s]*mcp-ollama", readme)
    assert "uvx --from /path/to/mcp-ollama mcp-ollama" in readme
    assert "pipx install /path/to/mcp-ollama" in readme


@pytest.mark.anyio
async def test_started_by_hand_in_a_terminal_the_server_says_it_waits_for_a_client(
    tmp_path: Path,
) -> None:
    leader, follower = pty.openpty()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "OLLAMA_HOST": "127.0.0.1:9",
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_LOG_JSON": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_ollama"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    try:
        assert process.stderr is not None
        events: list[str] = []
        with anyio.fail_after(30):
            while "starting" not in events:
                line = await anyio.to_thread.run_sync(process.stderr.readline)
                assert line, "the server exited before it started"
                events.append(json.loads(line)["event"])
            line = await anyio.to_thread.run_sync(process.stderr.readline)
            waiting = json.loads(line)
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=30)
        os.close(leader)

    assert waiting["event"].startswith("waiting for an MCP client on stdin")
    assert "mcp-ollama doctor" in waiting["event"]
    assert stdout == b""  # stdout stays the protocol's
