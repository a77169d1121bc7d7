"""Toolsets: the `tools` setting decides which tools a client sees (issue 12)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_ollama.cli import doctor as cli_doctor
from mcp_ollama.cli.main import _given_flags, _parser, main
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import CORE, GROUPS, TOOLS
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import block_text, error_text, ok

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


def with_tools(settings: Settings, tools: str, **more: object) -> Settings:
    """The fixture's settings with another `tools` value (validated like the environment's)."""
    values = {**settings.model_dump(exclude={"tools"}), **more, "tools": tools}
    return Settings(**values)


async def listed(settings: Settings) -> list[str]:
    async with Client(build_server(settings)) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


async def test_a_client_sees_the_nine_core_tools_by_default(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MCP_OLLAMA_TOOLS")
    default = Settings(host=settings.host, data_dir=settings.data_dir)
    assert default.tools == ["core"]
    assert await listed(default) == list(CORE)
    assert len(CORE) == 9


async def test_all_lists_every_tool_and_named_tools_list_exactly_those(
    settings: Settings,
) -> None:
    everything = await listed(with_tools(settings, "all", allow_destructive=True))
    assert everything == list(TOOLS)
    assert len(everything) >= 25
    named = await listed(with_tools(settings, "generate_text,list_local_models"))
    assert named == ["generate_text", "list_local_models"]
    mixed = await listed(with_tools(settings, "models, -pull_model, get_usage"))
    assert mixed == [
        name for name in GROUPS["models"] if name not in {"pull_model", "delete_model"}
    ] + ["get_usage"]


async def confirm(_context: object, _params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_delete_model_is_listed_only_where_a_call_could_succeed(
    settings: Settings, mode: str
) -> None:
    models = with_tools(settings, "models")
    # A client that cannot ask its user would only ever be refused.
    assert "delete_model" not in await listed(models)
    async with Client(build_server(models), mode=mode, elicitation_callback=confirm) as client:
        asking = [tool.name for tool in (await client.list_tools()).tools]
    assert "delete_model" in asking
    assert "delete_model" in await listed(with_tools(settings, "models", allow_destructive=True))


async def test_a_tool_left_out_answers_with_the_setting_that_enables_it(
    settings: Settings, fake: FakeOllama
) -> None:
    async with Client(build_server(with_tools(settings, "core"))) as client:
        sessions = error_text(await client.call_tool("list_sessions", {}))
        delete = error_text(await client.call_tool("delete_model", {"model": "llama3.2:1b"}))
        unknown = await client.call_tool("no_such_tool", {})
    async with Client(build_server(with_tools(settings, "models"))) as client:
        # Enabled but unlisted to a client that cannot ask its user: refused, saying why.
        refused = error_text(await client.call_tool("delete_model", {"model": "llama3.2:1b"}))
    assert "list_sessions is not enabled" in sessions
    assert "MCP_OLLAMA_TOOLS" in sessions
    assert "sessions" in sessions
    assert "add delete_model or its group models" in delete
    assert "MCP_OLLAMA_ALLOW_DESTRUCTIVE=true" in refused
    assert unknown.is_error
    assert fake.requests_to("/api/delete") == []


def test_an_unknown_name_is_refused_at_start_with_every_valid_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--tools", "core,generate", "doctor"]) == 2
    err = capsys.readouterr().err
    assert "unknown tool or group 'generate'" in err
    for name in [*GROUPS, *TOOLS]:
        assert name in err
    with pytest.raises(ValueError, match="tools is empty"):
        Settings(tools="")


def test_the_flag_beats_the_environment_which_beats_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('tools = ["bench", "chat"]\n', encoding="utf-8")
    monkeypatch.delenv("MCP_OLLAMA_TOOLS")
    assert Settings().enabled_tools == (
        "chat",
        "benchmark_model",
        "compare_models",
        "list_reports",
        "get_report",
    )
    monkeypatch.setenv("MCP_OLLAMA_TOOLS", "sessions")
    assert Settings().tools == ["sessions"]
    assert Settings(tools="embed").enabled_tools == ("embed",)


async def test_check_health_and_doctor_show_the_enabled_tools(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = with_tools(settings, "check_health,embed")
    async with Client(build_server(chosen)) as client:
        result = await client.call_tool("check_health", {})
    assert ok(result)["tools"] == ["embed", "check_health"]
    assert "tools (2): embed, check_health" in block_text(result.content[0])
    given = _given_flags(_parser().parse_args(["doctor", "--tools", "check_health,embed"]))
    assert given["tools"] == "check_health,embed"
    await anyio.to_thread.run_sync(cli_doctor.run, argparse.Namespace(json=False), chosen)
    assert "MCP tools (2): embed, check_health" in capsys.readouterr().out
    await anyio.to_thread.run_sync(cli_doctor.run, argparse.Namespace(json=True), chosen)
    assert json.loads(capsys.readouterr().out)["tools"] == ["embed", "check_health"]


async def test_resources_and_prompts_stay_available_whatever_the_toolset(
    settings: Settings,
) -> None:
    async with Client(build_server(with_tools(settings, "embed"))) as client:
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        prompts = (await client.list_prompts()).prompts
        presets = await client.read_resource("presets://all")
    assert {
        "ollama://models/{+name}",
        "reports://{report_id}",
        "sessions://{session_id}",
    } <= templates
    assert prompts
    assert presets.contents


async def test_a_stdio_client_sees_exactly_the_tools_named_in_the_environment(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_TOOLS": "generate_text,list_local_models",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_ollama"], env=env)
    with anyio.fail_after(30), open(os.devnull, "w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == ["generate_text", "list_local_models"]


def test_version_answers_without_importing_the_server_or_the_sdk() -> None:
    code = (
        "import sys\n"
        "from mcp_ollama.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp_ollama.server')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.startswith("mcp-ollama ")
    assert done.stdout.strip().endswith("[]")
