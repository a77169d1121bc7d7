"""Input no SDK would send: JSON nested a thousand levels deep over streamable HTTP,
configuration text nested thousands deep, garbage lines and lone surrogates on stdio. Each ends in
an error (over stdio, an answer to the request that carried it), not a crash, and the server
answers the next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client
from mcp.types import PARSE_ERROR, CallToolResult

from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeServerHandle
from tests.fuzz_helpers import CALL_TIMEOUT, assert_handled, bounded_call, portal_clients
from tests.mcp_helpers import block_text
from tests.test_transports import INITIALIZE, MCP_HEADERS, child_env, serving


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
                assert "nested more than" in block_text(outcome.content[0])


class RawStdio:
    """A server subprocess over stdio, spoken to in raw lines."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self.send = process.stdin.send
        self._stdout = BufferedByteReceiveStream(process.stdout)

    async def response(self, request_id: int | None) -> dict[str, Any]:
        """Read messages until the one answering `request_id` (None: an error without an id)."""
        while True:
            message = json.loads(await self._stdout.receive_until(b"\n", 10_000_000))
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return dict(message)


@asynccontextmanager
async def raw_stdio(fake_ollama: FakeServerHandle, tmp_path: Path) -> AsyncIterator[RawStdio]:
    """An initialised server subprocess; stdin is closed and a clean exit checked at the end."""
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        process = await anyio.open_process(
            [sys.executable, "-m", "mcp_ollama"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env={"PATH": os.environ["PATH"], **child_env(fake_ollama, tmp_path)},
        )
        async with process:
            raw = RawStdio(process)
            await raw.send(json.dumps(INITIALIZE).encode() + b"\n")
            await raw.response(1)
            await raw.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
            yield raw
            assert process.stdin is not None
            await process.stdin.aclose()
            assert await process.wait() == 0


def tool_call(request_id: int, name: str, arguments: dict[str, Any]) -> bytes:
    """A tools/call line; a str holding a lone surrogate becomes its `\\udXXX` escape."""
    call = {"name": name, "arguments": arguments}
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": call}
    return json.dumps(message).encode() + b"\n"


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
    async with raw_stdio(fake_ollama, tmp_path) as stdio:
        for line in garbage:
            await stdio.send(line + b"\n")
        await stdio.send(tool_call(10, "list_local_models", {}))
        answer = await stdio.response(10)
    assert answer["result"]["isError"] is False


@pytest.mark.anyio
async def test_a_lone_surrogate_over_stdio_gets_a_parse_error_for_that_very_request(
    fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    cut = "a\ud83d"  # a JavaScript string cut inside an emoji
    user = {"role": "user", "content": cut}
    calls = [
        tool_call(2, "generate_text", {"model": "llama3.2:1b", "prompt": cut}),
        tool_call(3, "chat", {"model": "llama3.2:1b", "messages": [user]}),
        tool_call(4, "embed", {"model": "nomic-embed-text", "input": [cut]}),
        tool_call(5, "show_model", {"model": cut}),
    ]
    assert b"\\ud83d" in calls[0]
    async with raw_stdio(fake_ollama, tmp_path) as stdio:
        for line in calls:
            await stdio.send(line)
        answers = [await stdio.response(request_id) for request_id in (2, 3, 4, 5)]
        await stdio.send(b"{not json\n")
        unreadable = await stdio.response(None)
        await stdio.send(tool_call(6, "list_local_models", {}))
        after = await stdio.response(6)
    for answer in answers:
        assert answer["error"]["code"] == PARSE_ERROR
        assert "not valid JSON" in answer["error"]["message"]
    assert unreadable["error"]["code"] == PARSE_ERROR
    assert after["result"]["isError"] is False
