"""Hostile input for every tool: hypothesis builds arguments from each tool's `inputSchema`, then
mutates them (wrong types, ~1 MB strings, control characters and NUL, path-traversal ids, shell
metacharacters, option-like model names, deep nesting). Every call must end in a tool result or
a protocol error within a bound, nothing may be written outside the data directory, and no
`ollama` subprocess may receive an argument that did not pass validation. Resource templates and
prompts get the same treatment, and raw transports get what no SDK would send (JSON nested 1000
deep, garbage lines on stdio).

The in-memory client runs in a blocking portal so that hypothesis (which is synchronous) can
drive one live server per protocol era for the whole run instead of one per example.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.buffered import BufferedByteReceiveStream
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Tool

from mcp_ollama.names import validate_model_name
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.test_transports import INITIALIZE, MCP_HEADERS, child_env, serving

MODES = ("auto", "legacy")
CALL_TIMEOUT = 30.0  # a bound for "never hangs", far above any legitimate call on the fake
CLIENT_MAX_DEPTH = 240  # the SDK client refuses to serialise deeper (pydantic's limit is ~255)

VALID_MODELS = ["llama3.2:1b", "nomic-embed-text", "tinyllama", "qwen3:0.6b", "gemma3:270m"]
HOSTILE_TEXT = [
    "",
    " ",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "reports/../../escape",
    "%2e%2e%2fescape",
    "; rm -rf /",
    "$(id)",
    "`id`",
    "| cat /etc/shadow",
    "&& curl evil.example",
    "--help",
    "-rf",
    "-",
    "--",
    "--insecure",
    "-h llama3.2:1b",
    "llama3.2:1b --help",
    "llama3.2:1b; id",
    "a\x00b",
    "\x00",
    "line\r\nbreak",
    "\x1b[2J\x1b[H",
    "\u202eevil\u202c",
    "\ufeffbom",
    "名前/模型:標籤",
    "😀" * 40,
    "CON",
    "nul",
    ".hidden",
    "x" * 300,
    "new",
    "bench-20260101-000000-abcdef",
    "compare-../../x",
    "output-20260101-000000-abcdef",
    "config-20260101-000000-abcdef",
]
HUGE_SIZES = [4_097, 65_537, 1_000_001]
HUGE_UNITS = ["A", "é", "\x00", "😀", "-", "../"]
TEXT_ALPHABET = st.characters(codec="utf-8")  # every code point JSON can carry, controls too

# Argument names whose values become model names, file names or CLI arguments.
MODEL_KEYS = frozenset({"model", "source", "destination", "summary_model"})


def nested(depth: int, leaf: Any = "x") -> Any:
    """`depth` levels of alternating objects and arrays."""
    value: Any = leaf
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


def huge_strings() -> st.SearchStrategy[str]:
    """4 KB to 1 MB of one repeated unit (built, not drawn: drawing a megabyte is slow)."""
    return st.builds(
        lambda unit, size: (unit * size)[:size],
        st.sampled_from(HUGE_UNITS),
        st.sampled_from(HUGE_SIZES),
    )


def hostile_strings() -> st.SearchStrategy[str]:
    """Known-bad strings, arbitrary unicode (controls and NUL included) and huge ones."""
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(TEXT_ALPHABET, max_size=40),
        huge_strings(),
    )


def hostile_values() -> st.SearchStrategy[Any]:
    """Any JSON value, with a bias towards what breaks servers."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_strings(),
    )
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=5),
        st.dictionaries(hostile_strings(), scalars, max_size=4),
        st.builds(nested, st.integers(min_value=1, max_value=CLIENT_MAX_DEPTH)),
    )


def model_names() -> st.SearchStrategy[str]:
    """Installed model names half the time, so that calls get past validation."""
    return st.one_of(st.sampled_from(VALID_MODELS), hostile_strings())


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(defs[ref.rsplit("/", 1)[-1]], defs)
    return schema


def from_schema(
    schema: dict[str, Any], defs: dict[str, Any], key: str = ""
) -> st.SearchStrategy[Any]:
    """Values that a client reading the schema could plausibly send, hostile strings included."""
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs, key) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if key in MODEL_KEYS:
            return model_names()
        return st.one_of(st.text(TEXT_ALPHABET, max_size=60), hostile_strings())
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -5))
        high = schema.get("maximum", low + 50)
        # Mostly small: a benchmark of 20 runs x 10 prompts x 10 models is legitimate but slow.
        return st.one_of(st.integers(low, min(high, low + 2)), st.just(high))
    if kind == "number":
        return st.floats(min_value=0.001, max_value=schema.get("maximum", 1e6))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items", {})
        item_key = "model" if key == "models" else key
        low = schema.get("minItems", 0)
        return st.lists(from_schema(items, defs, item_key), min_size=low, max_size=low + 3)
    if kind == "object" and "properties" in schema:
        return _object(schema, defs)
    return st.dictionaries(st.text(max_size=10), hostile_values(), max_size=3)


def _object(
    schema: dict[str, Any], defs: dict[str, Any], *, optional_fields: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {
        name: from_schema(sub, defs, name) for name, sub in properties.items() if name in required
    }
    optional = {
        name: from_schema(sub, defs, name)
        for name, sub in properties.items()
        if name not in required and optional_fields
    }
    return st.fixed_dictionaries(fields, optional=optional)


@st.composite
def hostile_arguments(draw: st.DrawFn, tool: Tool) -> dict[str, Any]:
    """Schema-shaped arguments (half the time only the required ones, so that some calls get
    past validation and do real work), then zero to three hostile mutations."""
    schema = tool.input_schema
    shape = _object(schema, schema.get("$defs", {}), optional_fields=draw(st.booleans()))
    arguments: dict[str, Any] = draw(shape)
    names = sorted(schema.get("properties", {})) or ["unexpected"]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        mutation = draw(st.sampled_from(["replace", "replace", "add", "drop"]))
        if mutation == "replace":
            arguments[draw(st.sampled_from(names))] = draw(hostile_values())
        elif mutation == "add":
            arguments[draw(hostile_strings().filter(lambda s: len(s) < 100))] = draw(
                hostile_values()
            )
        elif arguments:
            arguments.pop(draw(st.sampled_from(sorted(arguments))))
    return arguments


# -- the harness ------------------------------------------------------------------------------


@contextmanager
def portal_clients(settings: Settings) -> Iterator[tuple[BlockingPortal, dict[str, Client]]]:
    """One live in-memory client per protocol era, each on its own server, in a portal."""
    with start_blocking_portal(backend="asyncio") as portal, ExitStack() as stack:
        clients = {
            mode: stack.enter_context(
                portal.wrap_async_context_manager(Client(build_server(settings), mode=mode))  # type: ignore[arg-type]
            )
            for mode in MODES
        }
        yield portal, clients


async def bounded_call(
    client: Client, name: str, arguments: dict[str, Any]
) -> CallToolResult | MCPError:
    """The call's result, or the protocol error it ended in; a hang fails the test."""
    with anyio.fail_after(CALL_TIMEOUT):
        try:
            return await client.call_tool(name, arguments)
        except MCPError as exc:
            return exc


def assert_handled(name: str, outcome: CallToolResult | MCPError) -> None:
    """A result or a protocol error, but never a masked crash of the tool."""
    if isinstance(outcome, MCPError):
        assert outcome.code != 0, outcome
        return
    if outcome.is_error:
        text = (
            outcome.content[0].text if outcome.content and outcome.content[0].type == "text" else ""
        )
        # The SDK reports an unexpected exception as this bare line and logs the traceback.
        assert text.strip() != f"Error executing tool {name}", "the tool crashed"
        assert "Traceback" not in text


def snapshot(root: Path, skip: Path) -> set[str]:
    """Every path under `root` (relative), except what lies under `skip`."""
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path != skip and skip not in path.parents
    }


DATA_ENTRIES = re.compile(
    r"^(sessions\.db(-wal|-shm|-journal)?"
    r"|cache|cache/\.?models\.json[.\w-]*"
    r"|reports|reports/\.?(bench|compare)-\d{8}-\d{6}-[0-9a-f]{6}\.(json|md|svg)[.\w-]*"
    r"|outputs|outputs/\.?output-\d{8}-\d{6}-[0-9a-f]{6}\.json[.\w-]*"
    r"|configs|configs/\.?config-\d{8}-\d{6}-[0-9a-f]{6}\.(toml|json)[.\w-]*"
    r"|logs|skills|\.health-check[\w.-]*)$"
)


def assert_data_dir_clean(data_dir: Path) -> None:
    """Only the files the server names itself, in their own folders."""
    if not data_dir.exists():
        return
    unexpected = [
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if not DATA_ENTRIES.fullmatch(path.relative_to(data_dir).as_posix())
    ]
    assert unexpected == []


def fuzz_settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Per-test hypothesis settings: no deadline (calls do I/O), no example database."""
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def fuzz_tool(
    portal: BlockingPortal, clients: dict[str, Client], tool: Tool, examples: int
) -> Counter[str]:
    """Call `tool` with `examples` hostile argument sets, in either protocol era; counts how
    the calls ended (`ok`, `tool_error`, `protocol_error`)."""
    outcomes: Counter[str] = Counter()

    @fuzz_settings(examples)
    @given(mode=st.sampled_from(MODES), arguments=hostile_arguments(tool))
    def survives(mode: str, arguments: dict[str, Any]) -> None:
        note(f"{tool.name} in {mode}: {_preview(arguments)}")
        outcome = portal.call(bounded_call, clients[mode], tool.name, arguments)
        assert_handled(tool.name, outcome)
        if isinstance(outcome, MCPError):
            outcomes["protocol_error"] += 1
        else:
            outcomes["tool_error" if outcome.is_error else "ok"] += 1

    survives()
    return outcomes


# -- every tool, in memory --------------------------------------------------------------------


def test_every_tool_answers_hostile_arguments_with_a_result_or_protocol_error(
    settings: Settings, fake: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings.model_copy(update={"allow_destructive": True})
    data_dir = configured.data_dir
    # A relative path or a `~` built from input would land in these, inside the snapshot.
    for name in ("cwd", "home"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = snapshot(tmp_path, data_dir)
    with portal_clients(configured) as (portal, clients):
        tools = portal.call(clients["auto"].list_tools).tools
        assert len(tools) > 20  # an empty or half-registered server must not pass as "safe"

        outcomes: dict[str, Counter[str]] = {}
        for tool in tools:
            fake.reset()  # an earlier tool's fuzz may have deleted or replaced the models
            fake.tokens_per_second = 0  # as fast as possible: the fuzz is about input, not speed
            fake.max_answer_tokens = 64  # a valid num_predict of 32768 must not time out
            outcomes[tool.name] = fuzz_tool(portal, clients, tool, examples=25)
        # The strategies reach past validation: some hostile-looking calls do real work.
        assert sum(count["ok"] for count in outcomes.values()) > len(tools)
        # ... and every tool with required arguments refused some of what it got.
        never_refused = {
            name for name, count in outcomes.items() if count["ok"] == sum(count.values())
        }
        assert not never_refused & {t.name for t in tools if t.input_schema.get("required")}

        fake.reset()  # the fuzz may have deleted or copied over the models

        # The server still serves an ordinary call in both eras.
        for client in clients.values():
            for name, arguments in [
                ("list_local_models", {}),
                ("generate_text", {"model": "llama3.2:1b", "prompt": "still there?"}),
            ]:
                outcome = portal.call(bounded_call, client, name, arguments)
                assert isinstance(outcome, CallToolResult)
                assert not outcome.is_error, outcome.content
    assert snapshot(tmp_path, data_dir) == before
    assert_data_dir_clean(data_dir)


def _preview(arguments: dict[str, Any]) -> str:
    text = repr(arguments)
    return text if len(text) < 400 else text[:400] + f"... ({len(text)} chars)"


# -- resources and prompts -------------------------------------------------------------------

RESOURCE_CRASH = ("Error reading resource", "Error creating resource from template")
_TEMPLATE_VARIABLE = re.compile(r"\{\+?(\w+)\}")


def uri_parts() -> st.SearchStrategy[str]:
    """A template variable's value, percent-encoded whole or with its slashes and dots kept."""
    return st.builds(
        lambda value, safe: quote(value, safe=safe),
        # No megabyte strings: a URI that long says nothing a long argument does not.
        st.one_of(
            st.sampled_from(VALID_MODELS),
            st.sampled_from(HOSTILE_TEXT),
            st.text(TEXT_ALPHABET, max_size=40),
        ),
        st.sampled_from(["", "/.", "/.%"]),
    )


async def bounded_read(client: Client, uri: str) -> ReadResourceResult | MCPError:
    """The resource's contents, or the protocol error the read ended in; a hang fails."""
    with anyio.fail_after(CALL_TIMEOUT):
        try:
            return await client.read_resource(uri)
        except MCPError as exc:
            return exc


async def bounded_prompt(
    client: Client, name: str, arguments: dict[str, str]
) -> GetPromptResult | MCPError:
    """The rendered prompt, or the protocol error it ended in; a hang fails."""
    with anyio.fail_after(CALL_TIMEOUT):
        try:
            return await client.get_prompt(name, arguments)
        except MCPError as exc:
            return exc


def fuzz_template(portal: BlockingPortal, clients: dict[str, Client], pattern: str) -> None:
    """Read URIs built from `pattern` with hostile variable values."""

    @fuzz_settings(12)
    @given(mode=st.sampled_from(MODES), parts=st.lists(uri_parts(), min_size=3, max_size=3))
    def reads(mode: str, parts: list[str]) -> None:
        values = iter(parts)
        uri = _TEMPLATE_VARIABLE.sub(lambda _: next(values), pattern)
        note(uri[:300])
        outcome = portal.call(bounded_read, clients[mode], uri)
        if isinstance(outcome, MCPError):
            # The SDK's words for an unexpected exception in a resource (ours say what to do).
            assert not outcome.message.startswith(RESOURCE_CRASH), "the resource crashed"
        else:
            assert "root:x:0:0" not in repr(outcome.contents)  # no /etc/passwd through a path

    reads()


def fuzz_prompt(portal: BlockingPortal, clients: dict[str, Client], prompt: Prompt) -> None:
    """Render `prompt` with hostile argument values (some arguments left out)."""
    names = [argument.name for argument in prompt.arguments or []]

    @fuzz_settings(12)
    @given(
        mode=st.sampled_from(MODES),
        arguments=st.fixed_dictionaries({}, optional={n: hostile_strings() for n in names}),
    )
    def renders(mode: str, arguments: dict[str, str]) -> None:
        note(f"{prompt.name}: {_preview(arguments)}")
        outcome = portal.call(bounded_prompt, clients[mode], prompt.name, arguments)
        if isinstance(outcome, MCPError):
            assert not outcome.message.startswith("Error rendering prompt"), "the prompt crashed"

    renders()


def test_every_resource_template_and_prompt_answers_hostile_input(settings: Settings) -> None:
    with portal_clients(settings) as (portal, clients):
        templates = portal.call(clients["auto"].list_resource_templates).resource_templates
        prompts = portal.call(clients["auto"].list_prompts).prompts
        assert len(templates) >= 5
        assert len(prompts) >= 3
        for template in templates:
            fuzz_template(portal, clients, template.uri_template)
        for prompt in prompts:
            fuzz_prompt(portal, clients, prompt)


# -- subprocesses -----------------------------------------------------------------------------

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
            assert "keep_alive" in outcome.content[0].text  # type: ignore[union-attr]
        for value in ["5m", "1h30m", "0", "-1m", 0, -1, 300.5]:
            arguments = {"model": "llama3.2:1b", "prompt": "hi", "keep_alive": value}
            outcome = portal.call(bounded_call, clients["auto"], "generate_text", arguments)
            assert isinstance(outcome, CallToolResult)
            assert not outcome.is_error, (value, outcome.content)
    sent = [r.body.get("keep_alive") for r in fake.requests_to("/api/generate")]
    assert sent == ["5m", "1h30m", "0", "-1m", 0, -1, 300.5]


# -- raw JSON nobody's SDK would send ---------------------------------------------------------


def deep_json(depth: int) -> str:
    """JSON text of `nested(depth)`, built by hand: Python's encoder would recurse too deeply."""
    opening = "".join('{"a":' if level % 2 else "[" for level in reversed(range(depth)))
    closing = "".join("}" if level % 2 else "]" for level in range(depth))
    return f'{opening}"x"{closing}'


@pytest.mark.anyio
async def test_arguments_nested_a_thousand_levels_deep_get_an_error_not_a_crash(
    settings: Settings,
) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {
            "name": "generate_text",
            "arguments": {"model": "llama3.2:1b", "prompt": "hi", "format": "__DEEP__"},
        },
    }
    body = json.dumps(call).replace('"__DEEP__"', deep_json(1000)).encode()
    assert json.loads(body.decode().replace(deep_json(1000), "0"))  # the rest is well formed
    async with serving(settings) as base, httpx2.AsyncClient(timeout=30) as http:
        with anyio.fail_after(CALL_TIMEOUT):
            init = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert init.status_code == 200
            headers = {**MCP_HEADERS, "MCP-Protocol-Version": "2025-11-25"}
            if "mcp-session-id" in init.headers:
                headers["MCP-Session-Id"] = init.headers["mcp-session-id"]
            response = await http.post(f"{base}/mcp", content=body, headers=headers)
            async with Client(f"{base}/mcp") as client:
                result = await client.call_tool("list_local_models", {})
    assert response.status_code < 500
    assert '"error"' in response.text or '"isError":true' in response.text
    assert not result.is_error


def test_configuration_text_nested_thousands_deep_is_refused_not_a_crash(
    settings: Settings,
) -> None:
    texts = {
        "toml": "a = " + "[" * 5000 + "]" * 5000,
        "json": '{"presets": ' + "[" * 50_000 + "]" * 50_000 + "}",
    }
    with portal_clients(settings) as (portal, clients):
        for tool in ("validate_config", "import_config"):
            for format, content in texts.items():
                arguments = {"content": content, "format": format}
                outcome = portal.call(bounded_call, clients["legacy"], tool, arguments)
                assert isinstance(outcome, CallToolResult)
                assert_handled(tool, outcome)
                assert "nested more than" in outcome.content[0].text  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_stdio_survives_garbage_lines_and_answers_the_next_request(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    garbage = [
        b"not json at all",
        b"\x00\x01\x02\xff\xfe",  # not even UTF-8
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": ' + b"[" * 5000,
        deep_json(1000).encode(),
        b'{"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": 5}}',
        b'{"jsonrpc": "2.0", "id": 9, "method": "no/such/method"}',
        b"[" + b"1," * 100_000 + b"1]",
    ]
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        process = await anyio.open_process(
            [sys.executable, "-m", "mcp_ollama"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env={"PATH": os.environ["PATH"], **child_env(fake_ollama, tmp_path)},
        )
        async with process:
            assert process.stdin is not None
            assert process.stdout is not None
            stdout = BufferedByteReceiveStream(process.stdout)
            send = process.stdin.send

            async def until_response(request_id: int) -> dict[str, Any]:
                while True:
                    message = json.loads(await stdout.receive_until(b"\n", 10_000_000))
                    if message.get("id") == request_id:
                        return dict(message)

            await send(json.dumps(INITIALIZE).encode() + b"\n")
            await until_response(1)
            await send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
            for line in garbage:
                await send(line + b"\n")
            call = {
                "jsonrpc": "2.0",
                "id": 10,
                "method": "tools/call",
                "params": {"name": "list_local_models", "arguments": {}},
            }
            await send(json.dumps(call).encode() + b"\n")
            answer = await until_response(10)
            await process.stdin.aclose()
            assert await process.wait() == 0
    assert answer["result"]["isError"] is False
