"""Hostile input against the `ollama` subprocess: with every daemon route failing so that calls
fall back to the CLI, no subprocess gets an argument that did not pass validation, and hostile
keep_alive values reach neither the daemon nor a subprocess.
"""

from __future__ import annotations

import json
import re

from mcp.types import CallToolResult

from mcp_ollama.ollama.names import validate_model_name
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama
from tests.fuzz_helpers import bounded_call, fuzz_tool, portal_clients
from tests.mcp_helpers import block_text

ARGV_MODEL_COMMANDS = frozenset({"run", "show", "pull", "rm", "cp", "stop"})
GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")


def assert_argv_validated(argv: list[str]) -> None:
    """The subcommand's model arguments pass the validator; option values are well formed."""
    command, *rest = argv
    if command in ARGV_MODEL_COMMANDS:
        models = [a for a in rest if not a.startswith("-")][: 2 if command == "cp" else 1]
        assert models, argv
        assert rest[: len(models)] == models, "the model comes first, before any option"
        for model in models:
            assert validate_model_name(model) == model
    for index, arg in enumerate(rest):
        assert "\x00" not in arg
        if index and rest[index - 1] == "--keepalive":
            assert GO_DURATION.fullmatch(arg), argv
        elif index and rest[index - 1] == "--format":
            assert arg == "json" or isinstance(json.loads(arg), dict), argv
        elif arg.startswith("-"):
            assert arg.split("=", 1)[0] in {
                "--nowordwrap",
                "--hidethinking",
                "--insecure",
                "--think",
                "--keepalive",
                "--format",
                "--verbose",
            }, argv


CLI_TOOLS = ("generate_text", "chat", "show_model", "pull_model", "list_local_models")


def test_no_ollama_subprocess_gets_an_unvalidated_argument(
    settings: Settings, fake: FakeOllama, fake_cli: FakeCLI
) -> None:
    # Every daemon route the CLI stands in for answers 500, so each valid call falls back to
    # a real `ollama` subprocess (the fake, which records its argv).
    fake.set_fault("http_500", paths=["/api/generate", "/api/chat", "/api/show", "/api/pull"])
    configured = settings.model_copy(update={"cli_fallback": True, "cli_timeout": 20})
    with portal_clients(configured) as (portal, clients):
        tools = {t.name: t for t in portal.call(clients["auto"].list_tools).tools}
        for name in CLI_TOOLS:
            fuzz_tool(portal, clients, tools[name], examples=10)
        # Valid calls with option-like companions reach the CLI with their options in place.
        portal.call(
            bounded_call,
            clients["legacy"],
            "generate_text",
            {"model": "llama3.2:1b", "prompt": "--help", "keep_alive": "-1m", "format": "json"},
        )
    calls = fake_cli.calls()
    assert {call[0] for call in calls} >= {"run", "show", "pull"}  # the fallback did run
    assert any(call[0] == "run" and "--keepalive" in call for call in calls)
    for argv in calls:
        assert_argv_validated(argv)


def test_hostile_keep_alive_values_never_reach_the_daemon_or_a_subprocess(
    settings: Settings, fake: FakeOllama
) -> None:
    with portal_clients(settings) as (portal, clients):
        # (NaN and infinity cannot travel: the SDK's JSON turns them into null.)
        for value in ["--help", "; rm -rf /", "5m\x00", "10", "abc", "-rf"]:
            arguments = {"model": "llama3.2:1b", "prompt": "hi", "keep_alive": value}
            outcome = portal.call(bounded_call, clients["auto"], "generate_text", arguments)
            assert isinstance(outcome, CallToolResult)
            assert outcome.is_error, value
            assert "keep_alive" in block_text(outcome.content[0])
        for value in ["5m", "1h30m", "0", "-1m", 0, -1, 300.5]:
            arguments = {"model": "llama3.2:1b", "prompt": "hi", "keep_alive": value}
            outcome = portal.call(bounded_call, clients["auto"], "generate_text", arguments)
            assert isinstance(outcome, CallToolResult)
            assert not outcome.is_error, (value, outcome.content)
    sent = [r.body.get("keep_alive") for r in fake.requests_to("/api/generate")]
    assert sent == ["5m", "1h30m", "0", "-1m", 0, -1, 300.5]
