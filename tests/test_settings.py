"""Settings: precedence (flag > env > config file > default), OLLAMA_HOST forms, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_ollama.cli.main import _given_flags, _parser
from mcp_ollama.hosts import parse_host
from mcp_ollama.settings import Settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        ("example.com", "http://example.com:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("example.com:56789", "http://example.com:56789"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("example.com:56789/", "http://example.com:56789"),
        ("example.com/path", "http://example.com:11434/path"),
        ("https://example.com:56789/path/", "https://example.com:56789/path"),
        ("[::1]", "http://[::1]:11434"),
        ("[::1]:56789", "http://[::1]:56789"),
        ("https://[::1]", "https://[::1]:443"),
        ("::1", "http://[::1]:11434"),
        ('"127.0.0.1:11434"', "http://127.0.0.1:11434"),
        ("'127.0.0.1:11434'", "http://127.0.0.1:11434"),
        (" 127.0.0.1 ", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("[::]", "http://[::1]:11434"),
        ("HTTP://Example.com", "http://example.com:80"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
    ],
)
def test_ollama_host_accepts_every_form_the_cli_accepts(value: str | None, expected: str) -> None:
    assert parse_host(value) == expected


@pytest.mark.parametrize("value", ["example.com:99999", "tcp://x", "host:port", "localhost:-1"])
def test_invalid_ollama_host_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="OLLAMA_HOST"):
        parse_host(value)


def test_an_invalid_ollama_host_in_the_environment_fails_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "localhost:99999")
    with pytest.raises(ValidationError, match="OLLAMA_HOST"):
        Settings()


def test_ollama_base_url_is_an_alias_and_mcp_ollama_host_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://base:1")
    assert Settings().base_url == "http://base:1"
    monkeypatch.setenv("OLLAMA_HOST", "host:2")
    monkeypatch.setenv("MCP_OLLAMA_HOST", "mcp:3")
    assert Settings().base_url == "http://mcp:3"


def test_precedence_is_flag_then_environment_then_config_file_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("stall_timeout = 11\nrequest_timeout = 22\nmax_retries = 7\n", "utf-8")
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))
    monkeypatch.setenv("MCP_OLLAMA_REQUEST_TIMEOUT", "33")
    monkeypatch.setenv("MCP_OLLAMA_MAX_RETRIES", "8")

    settings = Settings(max_retries=9)

    assert settings.max_retries == 9  # flag beats env and file
    assert settings.request_timeout == 33  # env beats file
    assert settings.stall_timeout == 11  # file beats default
    assert settings.connect_timeout == 5.0  # default


def test_the_cli_passes_only_the_flags_the_user_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_OLLAMA_TRANSPORT", "sse")
    monkeypatch.setenv("MCP_OLLAMA_HTTP_PORT", "9001")
    args = _parser().parse_args(["--port", "9002"])

    settings = Settings(**_given_flags(args))

    assert settings.http_port == 9002
    assert settings.transport == "sse"


def test_config_file_holds_presets_and_per_model_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[presets.terse]\ntemperature = 0.2\nnum_predict = 64\n\n"
        '[models."llama3.2"]\nnum_ctx = 8192\n',
        "utf-8",
    )
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))
    settings = Settings()
    assert settings.presets == {"terse": {"temperature": 0.2, "num_predict": 64}}
    assert settings.models == {"llama3.2": {"num_ctx": 8192}}


def test_comma_separated_lists_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_OLLAMA_ALLOWED_HOSTS", "a.lan:*, b.lan:8000")
    monkeypatch.setenv("MCP_OLLAMA_PULL_ALLOWLIST", '["llama3*", "qwen*"]')
    settings = Settings()
    assert settings.allowed_hosts == ["a.lan:*", "b.lan:8000"]
    assert settings.pull_allowlist == ["llama3*", "qwen*"]


def test_secrets_go_into_headers_but_never_into_the_redacted_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-secret-1")
    monkeypatch.setenv("MCP_OLLAMA_HEADERS", json.dumps({"X-Api-Key": "k2", "X-Team": "blue"}))
    monkeypatch.setenv("MCP_OLLAMA_AUTH_TOKEN", "tok-3")
    settings = Settings()

    assert settings.request_headers()["Authorization"] == "Bearer sk-secret-1"
    redacted = json.dumps(settings.redacted())
    for secret in ("sk-secret-1", "k2", "tok-3"):
        assert secret not in redacted
    assert settings.redacted()["headers"] == {"X-Api-Key": "***", "X-Team": "blue"}
    assert "sk-secret-1" not in repr(settings)


def test_local_and_remote_hosts_are_told_apart() -> None:
    assert Settings(host="localhost:1").is_local
    assert Settings(host="[::1]:1").is_local
    assert not Settings(host="gpu-box.lan").is_local


def test_unknown_settings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]
