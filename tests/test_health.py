"""The health report: the check_health tool and `mcp-ollama doctor`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.cli import doctor as cli_doctor
from mcp_ollama.fleet import Fleet
from mcp_ollama.fleet.health import check_health
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeServerHandle

SECRET = "sk-very-secret-token"


def healthy_settings(
    fake_ollama: FakeServerHandle, tmp_path: Path, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "host": fake_ollama.url,
        "data_dir": tmp_path / "data",
        "api_key": SECRET,
        "auth_token": SECRET,
        "headers": {"X-Api-Key": SECRET, "X-Team": "blue"},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_working_setup_is_healthy_with_version_binary_and_redacted_settings(
    fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path
) -> None:
    settings = healthy_settings(fake_ollama, tmp_path, default_model="LLAMA3.2:1b")
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))

    assert report.healthy, report.problems
    assert report.daemon_reachable
    assert report.daemon_version == fake_ollama.fake.version
    assert report.binary_found
    assert report.binary_path == str(fake_cli.path)
    assert report.default_model_present is True
    assert report.data_dir_writable
    assert report.settings["api_key"] == "***"
    assert report.settings["auth_token"] == "***"
    assert report.settings["headers"] == {"X-Api-Key": "***", "X-Team": "blue"}
    assert SECRET not in report.model_dump_json()
    assert list(settings.data_dir.iterdir()) == []  # the write probe cleaned up after itself


@pytest.mark.anyio
async def test_a_missing_default_model_is_a_problem_that_says_how_to_pull_it(
    fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path
) -> None:
    settings = healthy_settings(fake_ollama, tmp_path, default_model="llama3.2:3b")
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))

    assert not report.healthy
    assert report.default_model_present is False
    assert any("ollama pull llama3.2:3b" in problem for problem in report.problems)


@pytest.mark.anyio
async def test_a_down_daemon_is_unhealthy_and_is_not_started_by_the_check(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    settings = Settings(host="127.0.0.1:9", data_dir=tmp_path / "data", auto_start=True)
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))

    assert not report.healthy
    assert not report.daemon_reachable
    assert report.daemon_error is not None
    assert "connection refused" in report.daemon_error
    assert any("serve" in problem for problem in report.problems)
    assert fake_cli.calls() == []


@pytest.mark.anyio
async def test_a_missing_binary_is_a_warning_while_the_daemon_answers(
    fake_ollama: FakeServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = healthy_settings(fake_ollama, tmp_path)
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))

    assert report.healthy
    assert not report.binary_found
    assert any("https://ollama.com/download" in warning for warning in report.warnings)


@pytest.mark.anyio
async def test_an_unwritable_data_dir_is_a_problem(
    fake_ollama: FakeServerHandle, fake_cli: FakeCLI, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    settings = healthy_settings(fake_ollama, tmp_path, data_dir=blocker / "data")
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))

    assert not report.healthy
    assert not report.data_dir_writable
    assert any("MCP_OLLAMA_DATA_DIR" in problem for problem in report.problems)


@pytest.mark.anyio
async def test_check_health_tool_returns_the_report(mcp_client: Client, fake_cli: FakeCLI) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    assert tools["check_health"].annotations is not None
    assert tools["check_health"].annotations.read_only_hint is True

    result = await mcp_client.call_tool("check_health", {})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["healthy"] is True
    assert result.structured_content["daemon_version"] == "0.12.3"
    assert result.structured_content["daemon_started_by_server"] is False


def test_doctor_prints_a_readable_report_and_exits_zero_when_healthy(
    fake_ollama: FakeServerHandle,
    fake_cli: FakeCLI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = healthy_settings(fake_ollama, tmp_path)

    code = cli_doctor.run(argparse.Namespace(json=False), settings)

    out = capsys.readouterr().out
    assert code == 0
    assert f"{fake_ollama.url} answers (Ollama 0.12.3)" in out
    assert str(fake_cli.path) in out
    assert out.rstrip().endswith("Healthy.")
    assert SECRET not in out


def test_doctor_json_exits_one_when_unhealthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(host="127.0.0.1:9", data_dir=tmp_path / "data")

    code = cli_doctor.run(argparse.Namespace(json=True), settings)

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["healthy"] is False
    assert report["daemon_reachable"] is False


def test_mcp_ollama_doctor_is_a_command_with_an_exit_status(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "OLLAMA_HOST": fake_ollama.url,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "MCP_OLLAMA_DEFAULT_MODEL": "not-installed:7b",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mcp_ollama", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["daemon_reachable"] is True
    assert report["default_model_present"] is False


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "secret", "warned"),
    [
        ("http://ollama.invalid:11434", {"api_key": "k"}, True),
        ("http://ollama.invalid:11434", {"headers": {"X-Auth-Token": "t"}}, True),
        ("https://ollama.invalid", {"api_key": "k"}, False),
        ("http://127.0.0.1:11434", {"api_key": "k"}, False),
        ("http://ollama.invalid:11434", {"headers": {"X-Team": "blue"}}, False),
    ],
)
async def test_credentials_sent_to_a_remote_daemon_over_plain_http_are_warned_about(
    tmp_path: Path, host: str, secret: dict[str, object], warned: bool
) -> None:
    settings = Settings(
        host=host, data_dir=tmp_path, auto_start=False, cli_fallback=False, **secret
    )
    async with OllamaClient.from_settings(settings) as client:
        report = await check_health(settings, Fleet.from_settings(settings, client=client))
    assert any("plain http" in w for w in report.warnings) is warned
    assert settings.sends_secrets_in_clear is warned
