"""Configuration mistakes at start: each error names the setting as the user wrote it, where it
came from (flag, variable, the config file with its path), the bad value and what is valid;
malformed hosts and a missing config file named explicitly are refused; `doctor` says which
file it read; global flags work after the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_ollama.cli import doctor as cli_doctor
from mcp_ollama.cli import main
from mcp_ollama.cli.main import _given_flags, _parser
from mcp_ollama.fleet.health import HealthReport
from tests.fake_ollama import FakeServerHandle


def start_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What `mcp-ollama ARGV` prints when it refuses to start (exit code 2)."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err


def test_a_bad_ollama_host_is_named_as_the_variable_the_user_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "localhost:99999")

    err = start_error(["doctor"], capsys)

    assert "OLLAMA_HOST (environment variable) = 'localhost:99999': port must be a number" in err
    assert "MCP_OLLAMA_HOST" not in err
    assert "pydantic" not in err


@pytest.mark.parametrize("argv", [["doctor"], ["serve"], []])
def test_a_malformed_host_is_refused_at_start_for_every_command(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1::11434")

    err = start_error(argv, capsys)

    assert "'127.0.0.1::11434' is not an IPv6 address; use host, host:port" in err


def test_a_bad_flag_value_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    err = start_error(["--port", "70000", "--ollama-host", "my host"], capsys)

    assert "--port (command-line flag) = 70000: must be less than or equal to 65535" in err
    assert "--ollama-host (command-line flag) = 'my host': 'my host' is not a host name" in err


def test_a_bad_value_in_the_config_file_names_the_file_key_and_what_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mine.toml"
    config.write_text('transport = "tcp"\nrequest_timout = 5\n', encoding="utf-8")
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))

    err = start_error(["doctor"], capsys)

    assert f"transport (config file {config}) = 'tcp': must be 'stdio', 'sse' or 'http'" in err
    assert f"request_timout (config file {config}): not a setting; did you mean" in err
    assert "'request_timeout'?" in err


def test_a_secret_value_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_OLLAMA_AUTH_TOKEN", "hunter2 with spaces")

    err = start_error(["doctor"], capsys)

    assert "MCP_OLLAMA_AUTH_TOKEN (environment variable) = (value hidden)" in err
    assert "hunter2" not in err


def test_a_config_file_named_explicitly_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo" / "config.toml"
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(missing))

    err = start_error(["doctor"], capsys)

    assert f"MCP_OLLAMA_CONFIG names {missing}, which does not exist" in err


def test_a_config_file_that_is_not_toml_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("request_timeout = \n", encoding="utf-8")
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))

    err = start_error(["doctor"], capsys)

    assert f"the config file {config} is not valid TOML" in err


def test_doctor_takes_global_flags_after_the_command_and_says_which_config_file_it_read(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    config = tmp_path / "team.toml"
    config.write_text('default_model = "qwen3:0.6b"\n', encoding="utf-8")
    env = {**os.environ, "MCP_OLLAMA_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "mcp_ollama", "doctor", "--ollama-host", fake_ollama.url, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    report = HealthReport.model_validate_json(done.stdout)
    assert report.daemon_url == fake_ollama.url
    assert report.config_file == str(config)
    assert f"config file     {config}" in cli_doctor.render(report)


def test_doctor_says_when_no_config_file_was_read() -> None:
    report = HealthReport(
        healthy=True, daemon_url="u", daemon_reachable=True, binary_found=True, data_dir="d",
        data_dir_writable=True, config_file=None, settings={},
    )  # fmt: skip
    assert "config file     none (" in cli_doctor.render(report)


def test_a_flag_before_the_command_is_not_lost_after_it() -> None:
    given = _given_flags(_parser().parse_args(["--port", "9000", "--data-dir", "/d", "serve"]))
    assert given == {"http_port": 9000, "data_dir": "/d"}
    given = _given_flags(_parser().parse_args(["--data-dir", "/d", "doctor", "--no-auto-start"]))
    assert given == {"data_dir": "/d", "auto_start": False}
