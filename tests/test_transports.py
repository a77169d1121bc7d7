"""The server over its real transports: a stdio subprocess (via the SDK client and a raw JSON-RPC
session reading stdout line by line), streamable HTTP and SSE on loopback in both protocol eras,
and the HTTP safety rules: DNS-rebinding checks, the bearer token, body limits, the bind rule."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from mcp_ollama import __version__
from mcp_ollama.errors import SettingsError
from mcp_ollama.server.http_security import check_bind, transport_security
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.http_helpers import INITIALIZE, MCP_HEADERS, serving
from tests.mcp_helpers import ProgressLog, call_every_tool, poll

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-ü"


@pytest.fixture
def http_settings(settings: Settings) -> Settings:
    """The fake daemon's settings, with destructive tools on so every tool can be called."""
    return settings.model_copy(update={"allow_destructive": True})


def child_env(fake_ollama: FakeServerHandle, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The whole configuration of a server subprocess: the daemon's non-default port comes
    only through OLLAMA_HOST, as a user would give it."""
    return {
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "child-data"),
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_ALLOW_DESTRUCTIVE": "true",
        "MCP_OLLAMA_TOOLS": "all",
        **extra,
    }


# -- stdio ------------------------------------------------------------------------------------


async def test_a_stdio_client_lists_and_calls_every_tool_against_ollama_host(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    assert fake_ollama.port != 11434
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_ollama"],
        env=child_env(fake_ollama, tmp_path),
    )
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert client.server_info.name == "mcp-ollama"
            results = await call_every_tool(client)
    assert results["pull_model"]["status"] == "success"
    assert fake.get_model("tiny-copy") is None
    assert fake.requests_to("/api/generate")


async def test_stdout_carries_nothing_but_json_rpc_under_stdio(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.response_tokens = 40
    fake.tokens_per_second = 200
    stderr_path = tmp_path / "stderr.log"
    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {
            "name": "generate_text",
            "arguments": {"model": "llama3.2:1b", "prompt": "hello"},
            "_meta": {"progressToken": "p1"},
        },
    }
    lines: list[bytes] = []
    with stderr_path.open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        process = await anyio.open_process(
            [sys.executable, "-m", "mcp_ollama", "--log-level", "DEBUG"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env={"PATH": "/usr/bin:/bin", **child_env(fake_ollama, tmp_path)},
        )
        async with process:
            assert process.stdin is not None
            assert process.stdout is not None
            stdout = BufferedByteReceiveStream(process.stdout)

            async def send(message: dict[str, Any]) -> None:
                assert process.stdin is not None
                await process.stdin.send(json.dumps(message).encode() + b"\n")

            async def until_response(request_id: int) -> dict[str, Any]:
                while True:
                    line = await stdout.receive_until(b"\n", 10_000_000)
                    lines.append(line)
                    message = json.loads(line)
                    if message.get("id") == request_id:
                        return dict(message)

            await send(INITIALIZE)
            assert (await until_response(1))["result"]["serverInfo"]["name"] == "mcp-ollama"
            await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            await send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
            assert len((await until_response(2))["result"]["tools"]) >= 10
            await send(call)
            result = (await until_response(3))["result"]
            assert not result["isError"]
            await process.stdin.aclose()
            # Everything after the last answer, until the server exits, must be protocol too.
            rest = b""
            with contextlib.suppress(anyio.EndOfStream):
                while True:
                    rest += await stdout.receive()
            lines += [line for line in rest.split(b"\n") if line]
            assert await process.wait() == 0
    messages = [json.loads(line) for line in lines]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert progress
    assert all(m["params"]["progressToken"] == "p1" for m in progress)
    # The logs went somewhere: stderr.
    assert "starting" in stderr_path.read_text(encoding="utf-8")


# -- streamable HTTP and SSE ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_streamable_http_client_lists_and_calls_every_tool_with_progress(
    http_settings: Settings, mode: str
) -> None:
    progress = {"generate_text": ProgressLog(), "pull_model": ProgressLog()}
    async with serving(http_settings) as base:
        with anyio.fail_after(30):
            async with Client(f"{base}/mcp", mode=mode) as client:  # type: ignore[arg-type]
                expected = "2026-07-28" if mode == "auto" else "2025-11-25"
                assert client.protocol_version == expected
                results = await call_every_tool(client, progress)
                # Notifications may trail a result on a real transport: wait for the last ones.
                tokens = results["generate_text"]["usage"]["output_tokens"]
                await poll(lambda: tokens in progress["generate_text"].values)
                await poll(lambda: "success" in progress["pull_model"].messages)
    for log in progress.values():
        assert len(log.values) >= 2
        assert log.values == sorted(set(log.values))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_sse_client_lists_and_calls_every_tool(http_settings: Settings, mode: str) -> None:
    sse = http_settings.model_copy(update={"transport": "sse"})
    async with serving(sse) as base:
        with anyio.fail_after(30):
            async with Client(sse_client(f"{base}/sse"), mode=mode) as client:  # type: ignore[arg-type]
                results = await call_every_tool(client)
    assert results["chat"]["message"]["content"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_cancelled_call_over_http_closes_the_daemon_stream(
    settings: Settings, fake: FakeOllama, mode: str
) -> None:
    fake.response_tokens = 1000
    fake.tokens_per_second = 20
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async with serving(settings) as base, Client(f"{base}/mcp", mode=mode) as client:  # type: ignore[arg-type]
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    arguments = {"model": "llama3.2:1b", "prompt": "go on"}
                    await client.call_tool(
                        "generate_text", arguments, progress_callback=on_progress
                    )

                tg.start_soon(call)
                await started.wait()
                tg.cancel_scope.cancel()
            await poll(fake.disconnected.is_set)
            assert fake.disconnect_paths == ["/api/generate"]
            listed = await client.call_tool("list_local_models", {})
            assert not listed.is_error


# -- HTTP safety ------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_foreign_host_gets_421_and_a_foreign_origin_403(
    settings: Settings, transport: str
) -> None:
    configured = settings.model_copy(update={"transport": transport})
    async with serving(configured) as base, httpx2.AsyncClient() as http:
        if transport == "http":
            url = f"{base}/mcp"
            send = http.post
            kwargs: dict[str, Any] = {"json": INITIALIZE}
        else:
            url = f"{base}/sse"
            send = http.get
            kwargs = {}
        evil_host = await send(url, headers={**MCP_HEADERS, "Host": "evil.example.com"}, **kwargs)
        evil_origin = await send(
            url, headers={**MCP_HEADERS, "Origin": "http://evil.example.com"}, **kwargs
        )
    assert evil_host.status_code == 421
    assert evil_origin.status_code == 403


async def test_an_allowed_host_and_origin_are_accepted(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"allowed_hosts": ["mcp.example.com"], "allowed_origins": ["https://app.example"]}
    )
    async with serving(configured) as base, httpx2.AsyncClient() as http:
        port = base.rsplit(":", 1)[1]
        headers = {**MCP_HEADERS, "Host": f"mcp.example.com:{port}"}
        by_host = await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)
        headers = {**MCP_HEADERS, "Origin": "https://app.example"}
        by_origin = await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)
    assert by_host.status_code == 200
    assert by_origin.status_code == 200


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_token_makes_http_transports_answer_401_without_it_but_health_stays_open(
    settings: Settings, transport: str
) -> None:
    guarded = settings.model_copy(update={"auth_token": SecretStr(TOKEN), "transport": transport})
    path = "/mcp" if transport == "http" else "/sse"
    async with serving(guarded) as base, httpx2.AsyncClient() as http:
        missing = await http.post(f"{base}{path}", json=INITIALIZE, headers=MCP_HEADERS)
        wrong = await http.post(
            f"{base}{path}",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Authorization": "Bearer not-it"},
        )
        messages = await http.post(f"{base}/messages/?session_id=x", json=INITIALIZE)
        health = await http.get(f"{base}/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "name": "mcp-ollama", "version": __version__}
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert messages.status_code == 401
    assert TOKEN not in missing.text + wrong.text


async def test_a_client_with_the_token_gets_through(settings: Settings) -> None:
    guarded = settings.model_copy(update={"auth_token": SecretStr(TOKEN)})
    # A non-ASCII token travels as UTF-8 bytes.
    headers = {"Authorization": f"Bearer {TOKEN}".encode()}
    async with (
        serving(guarded) as base,
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
    ):
        raw = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        assert raw.status_code == 200
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with Client(transport) as client:
            result = await client.call_tool("list_local_models", {})
    assert not result.is_error


async def test_an_oversized_request_body_gets_413(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    big = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * 4096}}  # type: ignore[dict-item]
    async with serving(small) as base, httpx2.AsyncClient() as http:
        response = await http.post(f"{base}/mcp", json=big, headers=MCP_HEADERS)
    assert response.status_code == 413


# -- the bind rule ----------------------------------------------------------------------------


def test_binding_beyond_loopback_without_a_token_is_refused_even_with_allowed_hosts() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        for allowed in ([], ["box.lan"]):
            with pytest.raises(SettingsError, match="MCP_OLLAMA_AUTH_TOKEN"):
                check_bind(Settings(transport="http", http_host=host, allowed_hosts=allowed))


def test_binding_beyond_loopback_is_allowed_with_a_token_or_an_explicit_opt_in() -> None:
    check_bind(Settings(transport="http", http_host="0.0.0.0", auth_token=SecretStr("t")))
    check_bind(Settings(transport="sse", http_host="0.0.0.0", allow_insecure_bind=True))
    check_bind(Settings(transport="http", http_host="127.0.0.1"))
    check_bind(Settings(transport="stdio", http_host="0.0.0.0"))


def test_the_command_line_refuses_an_unprotected_public_bind(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
    }
    argv = [sys.executable, "-m", "mcp_ollama", "--transport", "http", "--host", "0.0.0.0"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr
    assert done.stdout == ""


def test_dns_rebinding_protection_allows_loopback_and_the_configured_names_only() -> None:
    security = transport_security(
        Settings(http_host="10.0.0.5", allowed_hosts=["box.lan", "[::1]:9000"])
    )
    assert security.enable_dns_rebinding_protection
    assert {"127.0.0.1:*", "localhost:*", "box.lan", "box.lan:*", "[::1]:9000"} <= set(
        security.allowed_hosts
    )
    assert "10.0.0.5:*" in security.allowed_hosts  # the address we listen on
    assert "http://box.lan:*" in security.allowed_origins
    assert not any("evil" in host for host in security.allowed_hosts)
    assert not transport_security(Settings(allowed_hosts=["*"])).enable_dns_rebinding_protection
