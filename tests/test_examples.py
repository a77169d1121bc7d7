"""The examples work: the MCP client demo runs against the fake daemon, the client configs parse
and have the shape each client expects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_ollama import FakeOllama, FakeServerHandle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(
    name: str, fake_ollama: FakeServerHandle, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run an example script as a user would, against the fake daemon."""
    env = {
        "PATH": "/usr/bin:/bin",
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--model", "llama3.2:1b"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def test_the_mcp_client_demo_asks_a_model_through_the_server(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.script_response("Because air scatters blue light most.")
    done = run_example("mcp_client_demo.py", fake_ollama, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "connected to mcp-ollama" in done.stdout
    assert "llama3.2:1b" in done.stdout.splitlines()[1]
    assert "llama3.2:1b: Because air scatters blue light most." in done.stdout
    assert "tokens/s" in done.stdout
    assert "tokens" in done.stderr  # progress, kept off stdout
    assert fake.requests_to("/api/generate")[-1].body["prompt"].startswith("In one sentence")


def test_the_core_quickstart_generates_without_mcp(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.script_response("Rayleigh scattering.")
    done = run_example("core_quickstart.py", fake_ollama, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Rayleigh scattering."
    assert "tokens/s" in done.stdout
    assert fake.requests_to("/api/generate")[-1].body["options"]["temperature"] is not None


@pytest.mark.parametrize(
    ("name", "servers_key"),
    [
        ("claude_desktop_config.json", "mcpServers"),
        ("cursor_mcp.json", "mcpServers"),
        ("vscode_mcp.json", "servers"),
    ],
)
def test_client_configs_launch_mcp_ollama_over_stdio(name: str, servers_key: str) -> None:
    config = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    server = config[servers_key]["ollama"]
    assert server["command"].endswith("/bin/mcp-ollama")
    assert server["args"] == []
    assert set(server["env"]) == {"OLLAMA_HOST"}
    if servers_key == "servers":
        assert server["type"] == "stdio"


def test_the_examples_index_lists_every_example() -> None:
    index = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in EXAMPLES.iterdir():
        if path.name != "README.md" and path.suffix in {".py", ".json"}:
            assert f"`{path.name}`" in index, path.name
