"""Hostile input for the fuzz tests (test_fuzz_*.py): hypothesis strategies that build arguments
from each tool's `inputSchema`, then mutate them (wrong types, ~1 MB strings, control characters
and NUL, path-traversal ids, shell metacharacters, option-like model names, deep nesting), and the
harness that calls the server with them and checks how each call ended.

The in-memory client runs in a blocking portal so that hypothesis (which is synchronous) can
drive one live server per protocol era for the whole run instead of one per example.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, Tool

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings

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
        note(f"{tool.name} in {mode}: {preview(arguments)}")
        outcome = portal.call(bounded_call, clients[mode], tool.name, arguments)
        assert_handled(tool.name, outcome)
        if isinstance(outcome, MCPError):
            outcomes["protocol_error"] += 1
        else:
            outcomes["tool_error" if outcome.is_error else "ok"] += 1

    survives()
    return outcomes


def preview(arguments: dict[str, Any]) -> str:
    """`arguments` as text for a hypothesis note, cut to 400 characters."""
    text = repr(arguments)
    return text if len(text) < 400 else text[:400] + f"... ({len(text)} chars)"
