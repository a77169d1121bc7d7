"""The `hosts` setting: several daemons from MCP_OLLAMA_HOSTS or `[hosts.NAME]` tables, each with
its own URL, headers, key and weight; OLLAMA_HOST alone stays one host; per-host daemon files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_ollama.fleet.host import DOWN_FIRST, DOWN_MAX, Host
from mcp_ollama.hosts import default_host_name
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.lifecycle import DaemonManager
from mcp_ollama.settings import Settings


def test_the_environment_names_hosts_or_lets_their_address_name_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "MCP_OLLAMA_HOSTS", "gpu=http://10.0.0.5:11434, laptop=127.0.0.1:5001,10.0.0.7"
    )
    hosts = Settings().host_configs()

    assert [(h.name, h.base_url, h.weight) for h in hosts] == [
        ("gpu", "http://10.0.0.5:11434", 1.0),
        ("laptop", "http://127.0.0.1:5001", 1.0),
        ("10.0.0.7", "http://10.0.0.7:11434", 1.0),
    ]
    assert [h.is_local for h in hosts] == [False, True, False]


def test_the_environment_takes_the_tables_as_json_too(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {"gpu": {"url": "10.0.0.5", "weight": 3, "api_key": "sk-gpu"}}
    monkeypatch.setenv("MCP_OLLAMA_HOSTS", json.dumps(tables))

    (gpu,) = Settings().host_configs()

    assert gpu.weight == 3
    assert gpu.request_headers()["Authorization"] == "Bearer sk-gpu"


def test_config_tables_give_each_host_its_url_headers_key_and_weight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'api_key = "sk-everywhere"\n'
        'headers = {"X-Team" = "blue"}\n'
        "[hosts.gpu]\n"
        'url = "https://gpu.example:8443"\n'
        'api_key = "sk-gpu"\n'
        'headers = {"X-Team" = "red", "X-Gpu" = "1"}\n'
        "weight = 2.5\n"
        "[hosts.laptop]\n"
        'url = "127.0.0.1"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MCP_OLLAMA_CONFIG", str(config))

    gpu, laptop = Settings().host_configs()

    assert (gpu.name, gpu.base_url, gpu.weight) == ("gpu", "https://gpu.example:8443", 2.5)
    assert gpu.request_headers() == {
        "X-Team": "red",
        "X-Gpu": "1",
        "Authorization": "Bearer sk-gpu",
    }
    # What a host does not set it inherits from the settings for every daemon.
    assert laptop.request_headers() == {"X-Team": "blue", "Authorization": "Bearer sk-everywhere"}


def test_ollama_host_alone_is_one_host_named_by_its_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-one")

    settings = Settings()
    (only,) = settings.host_configs()

    assert (only.name, only.base_url) == ("10.0.0.5", settings.base_url)
    assert only.request_headers() == settings.request_headers()


def test_hosts_win_over_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.9")
    monkeypatch.setenv("MCP_OLLAMA_HOSTS", "a=10.0.0.5,b=10.0.0.6")

    assert [h.base_url for h in Settings().host_configs()] == [
        "http://10.0.0.5:11434",
        "http://10.0.0.6:11434",
    ]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("all=10.0.0.5", "not a usable host name"),
        ("bad name!=10.0.0.5", "not a usable host name"),
        ("a=10.0.0.5,b=http://10.0.0.5:11434", "'a' and 'b' are both http://10.0.0.5:11434"),
        ("a=10.0.0.5,a=10.0.0.6", "the name 'a' is used twice"),
        ("a=tcp://x", "scheme must be http or https"),
        ('{"a": {"url": "10.0.0.5", "weight": 0}}', "greater than 0"),
    ],
)
def test_a_bad_hosts_setting_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("MCP_OLLAMA_HOSTS", value)
    with pytest.raises((ValidationError, ValueError), match=complaint):
        Settings()


def test_host_secrets_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {"gpu": {"url": "10.0.0.5", "api_key": "sk-gpu", "headers": {"X-Api-Key": "sk-h"}}}
    monkeypatch.setenv("MCP_OLLAMA_HOSTS", json.dumps(tables))

    redacted = Settings().redacted()

    assert redacted["hosts"]["gpu"]["api_key"] == "***"
    assert redacted["hosts"]["gpu"]["headers"] == {"X-Api-Key": "***"}
    assert "sk-" not in json.dumps(redacted)


def test_credentials_over_plain_http_are_judged_per_host() -> None:
    settings = Settings(
        hosts={
            "safe": {"url": "https://gpu.example", "api_key": "k"},
            "local": {"url": "127.0.0.1:5001", "api_key": "k"},
        }
    )
    assert not settings.sends_secrets_in_clear
    exposed = Settings(hosts={"lan": {"url": "http://10.0.0.5", "api_key": "k"}})
    assert exposed.sends_secrets_in_clear


def test_a_default_name_keeps_the_port_unless_it_is_ollamas() -> None:
    assert default_host_name("http://10.0.0.5:11434") == "10.0.0.5"
    assert default_host_name("http://10.0.0.5:8080") == "10.0.0.5:8080"


@pytest.mark.anyio
async def test_each_local_host_of_several_has_its_own_daemon_log_and_pid_file(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path, hosts={"a": {"url": "127.0.0.1:5001"}, "b": {"url": "127.0.0.1:5002"}}
    )
    a, b = settings.host_configs()
    async with OllamaClient.from_settings(settings, host=b) as client:
        single = DaemonManager(settings, client)
        labelled = DaemonManager(settings, client, host=b, label=b.name)

    assert single.host == a
    assert single.log_path.name == "ollama-serve.log"
    assert labelled.log_path.name == "ollama-serve-b.log"
    assert labelled.pid_path.name == "ollama-serve-b.pid"
    assert client.base_url == "http://127.0.0.1:5002"


def test_a_down_host_stays_down_longer_after_each_failure_in_a_row(tmp_path: Path) -> None:
    now = [100.0]
    settings = Settings(data_dir=tmp_path, host="10.0.0.5")
    host = Host(settings, settings.host_configs()[0], clock=lambda: now[0])

    intervals = []
    for _ in range(8):
        assert host.mark_down()
        assert not host.mark_down()  # calls failing together count once
        intervals.append(host.down_until - now[0])
        now[0] = host.down_until
        assert host.due()

    assert intervals == [DOWN_FIRST * 2**i for i in range(6)] + [DOWN_MAX, DOWN_MAX]
    host.mark_up()
    assert not host.down
    assert host.mark_down()
    assert host.down_until - now[0] == DOWN_FIRST
