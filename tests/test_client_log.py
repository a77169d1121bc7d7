"""Log messages to clients through real clients: `logging/setLevel` on the handshake era, the
per-request opt-in on 2026-07-28; the server's own events arrive, prompts and secrets never."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import structlog
from mcp import Client, MCPDeprecationWarning
from mcp.types import LoggingLevel, LoggingMessageNotificationParams

from mcp_ollama.log import listen_to_logs
from mcp_ollama.server import build_server
from mcp_ollama.server.client_log import client_data
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import free_port, ok, poll
from tests.resilience_helpers import make_settings

pytestmark = pytest.mark.anyio

BOUND = 20


class LogInbox:
    """A client's logging callback: every message's level and data."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, params: LoggingMessageNotificationParams) -> None:
        assert params.logger == "mcp-ollama"
        self.messages.append((params.level, params.data))

    def events(self) -> list[str]:
        return [data.get("event", "") for _, data in self.messages]


async def set_level(client: Client, level: LoggingLevel) -> None:
    with warnings.catch_warnings():  # logging/setLevel is the handshake era's own method
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.set_logging_level(level)


def cold_daemon(tmp_path: Path) -> Settings:
    """Settings for a daemon that is not running yet and that the fake `ollama` starts."""
    return make_settings(f"127.0.0.1:{free_port()}", tmp_path, auto_start=True, cli_fallback=False)


@pytest.mark.parametrize(("level", "hears_it"), [("info", True), ("error", False)])
async def test_set_level_info_brings_the_daemon_started_event_and_error_silences_it(
    fake_cli: FakeCLI, tmp_path: Path, level: LoggingLevel, hears_it: bool
) -> None:
    inbox = LogInbox()
    server = build_server(cold_daemon(tmp_path))
    async with Client(server, mode="legacy", logging_callback=inbox) as client:
        assert client.server_capabilities.logging is not None
        await set_level(client, level)
        ok(await client.call_tool("list_local_models", {}))
    assert fake_cli.commands() == ["serve"]  # the daemon was started during the call
    assert ("daemon ready" in inbox.events()) is hears_it
    if not hears_it:
        assert [lv for lv, _ in inbox.messages if lv not in ("error", "critical")] == []


async def test_a_modern_request_that_opts_in_gets_the_events_of_its_call_before_its_result(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    inbox = LogInbox()
    server = build_server(cold_daemon(tmp_path))
    async with Client(server, logging_callback=inbox, log_level="info") as client:
        assert client.protocol_version == "2026-07-28"
        ok(await client.call_tool("list_local_models", {}))
        assert "daemon ready" in inbox.events()  # already there when the result came back


async def test_a_modern_request_that_does_not_opt_in_gets_no_log_messages(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    inbox = LogInbox()
    async with Client(build_server(cold_daemon(tmp_path)), logging_callback=inbox) as client:
        ok(await client.call_tool("list_local_models", {}))
    assert inbox.messages == []


async def test_a_pull_is_logged_to_every_client_listening_at_info(
    settings: Settings, fake: FakeOllama
) -> None:
    model = next(iter(fake.pullable))
    watcher = LogInbox()
    server = build_server(settings)
    async with (
        Client(server, mode="legacy", logging_callback=watcher) as watching,
        Client(server, mode="legacy") as acting,
    ):
        await set_level(watching, "info")
        ok(await acting.call_tool("pull_model", {"model": model}))
        await poll(lambda: "model pulled" in watcher.events(), BOUND)
    pulled = next(data for _, data in watcher.messages if data["event"] == "model pulled")
    assert pulled["model"] == model


async def test_prompts_and_answers_never_reach_a_client_even_at_debug(
    fake_cli: FakeCLI, tmp_path: Path
) -> None:
    inbox = LogInbox()
    server = build_server(cold_daemon(tmp_path))
    async with Client(server, mode="legacy", logging_callback=inbox) as client:
        await set_level(client, "debug")
        prompt = "the-secret-plan-xyzzy"
        arguments = {"model": "llama3.2:1b", "prompt": prompt, "save_output": True}
        answer = ok(await client.call_tool("generate_text", arguments))
    assert "daemon ready" in inbox.events()  # events were sent, just not the text
    sent = json.dumps([data for _, data in inbox.messages])
    assert prompt not in sent
    assert answer["text"] not in sent


def test_a_log_listener_sees_events_already_redacted_and_clients_no_url_credentials() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    stop = listen_to_logs(lambda level, event: seen.append((level, dict(event))))
    try:
        structlog.get_logger().warning(
            "probe", prompt="do not show", api_key="k-123", host="http://me:pw@box:11434"
        )
    finally:
        stop()
    level, event = next(item for item in seen if item[1].get("event") == "probe")
    assert level == "warning"
    assert event["prompt"] == "<not logged: 11 chars>"
    assert event["api_key"] == "***"
    assert client_data(event)["host"] == "http://***@box:11434"
