"""Security, end to end: the HTTP guards (Host syntax and allowlist, Origin, bearer token, body
size, the bind rule and its explicit override), the opt-in tools (destructive operations, the
pull allowlist), input limits, and what never reaches a log line or an error: prompts, answers
and secrets (bearer token, Ollama API key and auth headers).

The basic 421/403/401/413 answers are covered in test_transports.py; these are the cases around
them: malformed Host headers, the SSE message endpoint, chunked bodies, empty tokens.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr, ValidationError

from mcp_ollama.cli import main
from mcp_ollama.log import redact_secrets
from mcp_ollama.server import build_server
from mcp_ollama.server.transports import BearerTokenMiddleware
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import error_text, free_port, ok
from tests.test_transports import INITIALIZE, MCP_HEADERS, child_env, serving

pytestmark = pytest.mark.anyio

TOKEN = "tok-" + "9" * 28
API_KEY = "sk-ollama-" + "7" * 24
HEADER_SECRET = "hdr-" + "5" * 24


@pytest.fixture
async def client_for(settings: Settings) -> AsyncIterator[Any]:
    """Connect an in-memory client to a server built with some settings changed."""
    stack: list[Client] = []

    async def connect(**changes: Any) -> Client:
        client = Client(build_server(settings.model_copy(update=changes)))
        await client.__aenter__()
        stack.append(client)
        return client

    yield connect
    for client in reversed(stack):
        await client.__aexit__(None, None, None)


# -- Host and Origin --------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_malformed_and_lookalike_hosts_get_421_on_every_endpoint(
    settings: Settings, transport: str
) -> None:
    configured = settings.model_copy(update={"transport": transport})
    async with serving(configured) as base, httpx2.AsyncClient() as http:
        port = base.rsplit(":", 1)[1]
        lookalikes = [
            f"127.0.0.1:{port}@evil.example",  # passes a prefix match on "127.0.0.1:*"
            f"127.0.0.1:{port}/evil",
            "127.0.0.1.evil.example",
            f"localhost.evil.example:{port}",
            "evil.example#127.0.0.1",
        ]
        paths = ["/mcp"] if transport == "http" else ["/sse", "/messages/?session_id=0"]
        answers = {}
        for path in paths:
            for host in lookalikes:
                headers = {**MCP_HEADERS, "Host": host}
                if path == "/sse":
                    response = await http.get(f"{base}{path}", headers=headers)
                else:
                    response = await http.post(f"{base}{path}", json=INITIALIZE, headers=headers)
                answers[(path, host)] = response.status_code
        # Loopback under its usual names still works.
        fine = await http.get(f"{base}/health", headers={"Host": f"localhost:{port}"})
    assert set(answers.values()) == {421}, answers
    assert fine.status_code == 200


async def test_a_foreign_origin_is_refused_even_with_a_valid_token(settings: Settings) -> None:
    guarded = settings.model_copy(update={"auth_token": SecretStr(TOKEN)})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with serving(guarded) as base, httpx2.AsyncClient() as http:
        port = base.rsplit(":", 1)[1]
        answers = {
            origin: (
                await http.post(
                    f"{base}/mcp",
                    json=INITIALIZE,
                    headers={**MCP_HEADERS, **auth, "Origin": origin},
                )
            ).status_code
            for origin in ["null", "http://evil.example", f"http://127.0.0.1.evil.example:{port}"]
        }
        own = await http.post(
            f"{base}/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, **auth, "Origin": f"http://localhost:{port}"},
        )
    assert set(answers.values()) == {403}, answers
    assert own.status_code == 200


# -- the bearer token -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_every_wrong_credential_gets_401_with_a_bearer_challenge(
    settings: Settings, transport: str
) -> None:
    guarded = settings.model_copy(update={"auth_token": SecretStr(TOKEN), "transport": transport})
    wrong = {
        "missing": {},
        "other scheme": {"Authorization": f"Basic {base64.b64encode(TOKEN.encode()).decode()}"},
        "prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
        "longer": {"Authorization": f"Bearer {TOKEN}x"},
        "empty": {"Authorization": "Bearer"},
        "query string": {},  # below: the token in the URL is not accepted either
    }
    path = "/mcp" if transport == "http" else "/sse"
    async with serving(guarded) as base, httpx2.AsyncClient() as http:
        answers = {}
        for name, headers in wrong.items():
            url = f"{base}{path}" + (f"?token={TOKEN}" if name == "query string" else "")
            if transport == "http":
                response = await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})
            else:
                response = await http.get(url, headers=headers)
            answers[name] = response
    for name, response in answers.items():
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith('Bearer realm="mcp-ollama"')
        assert TOKEN not in response.text
        assert "MCP_OLLAMA_AUTH_TOKEN" in response.json()["error_description"]


def test_an_empty_or_blank_token_is_refused_instead_of_matching_an_empty_header() -> None:
    for token in ["", " ", "two words", "tab\there"]:
        with pytest.raises(ValidationError) as excinfo:
            Settings(auth_token=token)  # type: ignore[arg-type]
        assert "auth_token must be non-empty" in str(excinfo.value)
        if token.strip():
            assert token not in str(excinfo.value)  # rejected values are never echoed
    # Settings copied without validation still cannot serve an empty token.
    with pytest.raises(Exception, match="auth_token is empty"):
        BearerTokenMiddleware(lambda *_: None, token="", open_paths=frozenset())  # type: ignore[arg-type]


def test_an_empty_token_in_the_environment_stops_the_server_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_OLLAMA_AUTH_TOKEN", "")
    assert main(["--transport", "http"]) == 2
    assert "auth_token must be non-empty" in capsys.readouterr().err


# -- body size --------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_chunked_body_over_the_limit_gets_413_without_a_content_length(
    settings: Settings, transport: str
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 4096, "transport": transport})

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}}'

    path = "/mcp" if transport == "http" else "/messages/?session_id=0"
    async with serving(small) as base, httpx2.AsyncClient() as http:
        response = await http.post(f"{base}{path}", content=chunks(), headers=MCP_HEADERS)
        health = await http.get(f"{base}/health")
    assert response.status_code == 413
    assert health.status_code == 200


# -- the bind rule and its override -----------------------------------------------------------


def test_an_unprotected_public_bind_starts_only_with_the_explicit_override(
    tmp_path: Path, fake_ollama: FakeServerHandle
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "OLLAMA_HOST": fake_ollama.ollama_host,
    }
    argv = [sys.executable, "-m", "mcp_ollama", "--transport", "http", "--host", "0.0.0.0"]
    argv += ["--port", str(port)]
    refused = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 2
    assert "--allow-insecure-bind" in refused.stderr

    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog:
        process = subprocess.Popen([*argv, "--allow-insecure-bind"], env=env, stderr=errlog)
    try:
        answer = _wait_for_health(f"http://127.0.0.1:{port}/health", process)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert answer == 200


def _wait_for_health(url: str, process: subprocess.Popen[bytes]) -> int:
    """The first status `/health` answers with, polling until the server listens (bounded)."""

    async def wait() -> int:
        with anyio.fail_after(30):
            async with httpx2.AsyncClient() as http:
                while True:
                    assert process.poll() is None, "the server exited"
                    try:
                        return (await http.get(url)).status_code
                    except httpx2.ConnectError:
                        await anyio.sleep(0.05)

    return anyio.run(wait)


# -- opt-in tools -----------------------------------------------------------------------------


async def test_destructive_tools_are_refused_until_enabled(
    client_for: Any, fake: FakeOllama
) -> None:
    default = await client_for()
    delete = await default.call_tool("delete_model", {"model": "llama3.2:1b"})
    overwrite = await default.call_tool(
        "copy_model", {"source": "tinyllama", "destination": "llama3.2:1b"}
    )
    overwrite_latest = await default.call_tool(
        "copy_model", {"source": "llama3.2:1b", "destination": "Nomic-Embed-Text"}
    )
    fresh = await default.call_tool("copy_model", {"source": "llama3.2:1b", "destination": "mine"})
    assert "MCP_OLLAMA_ALLOW_DESTRUCTIVE" in error_text(delete)
    assert "already exists" in error_text(overwrite)
    assert "already exists" in error_text(overwrite_latest)  # names match like Ollama's do
    assert fake.get_model("llama3.2:1b") is not None
    assert ok(fresh)["message"] == "copied 'llama3.2:1b' to 'mine'"

    enabled = await client_for(allow_destructive=True)
    ok(await enabled.call_tool("copy_model", {"source": "mine", "destination": "llama3.2:1b"}))
    ok(await enabled.call_tool("delete_model", {"model": "mine"}))
    assert fake.get_model("mine") is None


async def test_the_pull_allowlist_admits_matching_names_only(
    client_for: Any, fake: FakeOllama
) -> None:
    client = await client_for(pull_allowlist=["tinyllama", "qwen3*", "hf.co/trusted/*"])
    allowed = [
        await client.call_tool("pull_model", {"model": m}) for m in ["tinyllama", "qwen3:0.6b"]
    ]
    refused = {
        model: await client.call_tool("pull_model", {"model": model})
        for model in [
            "gemma3:270m",
            "qwen3.evil.example/x/qwen3",  # `*` must not reach into another registry
            "qwen3x/anything",  # ... nor into another namespace
            "qwen3:0.6b-x/../y",
            "hf.co/trusted/../evil/m",
            "hf.co/trusted/org/deeper",  # `*` stays within one path segment
        ]
    }
    for result in allowed:
        assert ok(result)["status"] == "success"
    for model, result in refused.items():
        text = error_text(result)
        assert "MCP_OLLAMA_PULL_ALLOWLIST" in text or "invalid model name" in text, model
    assert len(fake.requests_to("/api/pull")) == 2  # nothing refused reached the daemon


async def test_auto_pull_obeys_the_pull_allowlist(client_for: Any, fake: FakeOllama) -> None:
    client = await client_for(auto_pull=True, pull_allowlist=["qwen3:*"])
    result = await client.call_tool("generate_text", {"model": "gemma3:270m", "prompt": "hi"})
    assert error_text(result)
    assert not fake.requests_to("/api/pull")


# -- input limits -----------------------------------------------------------------------------


async def test_every_input_limit_names_itself_and_the_setting_that_raises_it(
    client_for: Any, fake: FakeOllama
) -> None:
    client = await client_for(
        max_prompt_chars=100, max_messages=3, max_images=1, max_image_bytes=16
    )
    image = base64.b64encode(b"\x89PNG" + b"\x00" * 60).decode()
    cases = {
        "MCP_OLLAMA_MAX_PROMPT_CHARS": [
            ("generate_text", {"model": "llama3.2:1b", "prompt": "p" * 101}),
            ("generate_text", {"model": "llama3.2:1b", "prompt": "p" * 60, "system": "s" * 60}),
            (
                "chat",
                {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "c" * 101}]},
            ),
            ("embed", {"model": "nomic-embed-text", "input": ["e" * 60, "e" * 60]}),
            ("generate_batch", {"model": "llama3.2:1b", "prompts": ["ok", "b" * 101]}),
        ],
        "MCP_OLLAMA_MAX_MESSAGES": [
            ("chat", {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "m"}] * 4}),
        ],
        "MCP_OLLAMA_MAX_IMAGES": [
            ("generate_text", {"model": "llama3.2:1b", "prompt": "x", "images": [image, image]}),
        ],
        "MCP_OLLAMA_MAX_IMAGE_BYTES": [
            ("generate_text", {"model": "llama3.2:1b", "prompt": "x", "images": [image]}),
            (
                "chat",
                {
                    "model": "llama3.2:1b",
                    "messages": [{"role": "user", "content": "x", "images": [image]}],
                },
            ),
        ],
    }
    for setting, calls in cases.items():
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            if name == "generate_batch":  # a batch reports each item's own error
                items = ok(result)["items"]
                text = items[1]["error"]
            else:
                text = error_text(result)
            assert setting in text, (name, text)
            assert "limit" in text
    assert not fake.requests_to("/api/chat")
    assert not fake.requests_to("/api/embed")


# -- what never reaches the logs --------------------------------------------------------------


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_prompts_answers_and_secrets_never_reach_the_logs(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path, level: str
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    answer = f"answer-{uuid.uuid4().hex}"
    fake.script_response(answer)
    fake.script_response(answer)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_ollama", "--log-level", level],
        env=child_env(
            fake_ollama,
            tmp_path,
            OLLAMA_API_KEY=API_KEY,
            MCP_OLLAMA_HEADERS=json.dumps({"X-Auth-Token": HEADER_SECRET, "X-Team": "blue"}),
            MCP_OLLAMA_AUTH_TOKEN=TOKEN,
        ),
    )
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            generated = await client.call_tool(
                "generate_text", {"model": "llama3.2:1b", "prompt": f"say {marker}"}
            )
            chatted = await client.call_tool(
                "chat",
                {"model": "llama3.2:1b", "messages": [{"role": "user", "content": marker}]},
            )
            # Failures log more than successes: a bad argument, a missing model.
            await client.call_tool(
                "generate_text", {"model": "llama3.2:1b", "prompt": marker, "think": 5}
            )
            await client.call_tool("generate_text", {"model": "absent:1b", "prompt": marker})
            await client.call_tool("check_health", {})
    assert ok(generated)["text"] == answer
    assert ok(chatted)["message"]["content"] == answer
    # The daemon got the secrets: they were in use, not just configured.
    sent = fake.requests_to("/api/generate")[0].headers
    assert sent["authorization"] == f"Bearer {API_KEY}"
    logs = stderr_path.read_text(encoding="utf-8")
    assert "starting" in logs  # the log is not empty: there was something to leak into
    for secret in (marker, answer, TOKEN, API_KEY, HEADER_SECRET):
        assert secret not in logs, secret


def test_the_log_processor_hides_secret_and_prompt_like_fields() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "auth_token": TOKEN,
            "x_api_key": API_KEY,
            "headers": {"X-Auth-Token": HEADER_SECRET},
            "prompt": "private words",
            "messages": [{"role": "user", "content": "private"}],
            "prompt_tokens": 12,
            "model": "llama3.2:1b",
        },
    )
    text = json.dumps(event)
    for secret in (TOKEN, API_KEY, HEADER_SECRET, "private"):
        assert secret not in text
    assert event["prompt_tokens"] == 12
    assert event["model"] == "llama3.2:1b"


# -- what never reaches doctor, check_health or an error --------------------------------------


def test_doctor_shows_no_secret_in_text_or_json(
    tmp_path: Path, fake_ollama: FakeServerHandle
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
        "OLLAMA_HOST": fake_ollama.ollama_host,
        "OLLAMA_API_KEY": API_KEY,
        "MCP_OLLAMA_AUTH_TOKEN": TOKEN,
        "MCP_OLLAMA_HEADERS": json.dumps({"X-Auth-Token": HEADER_SECRET, "Cookie": "c=1"}),
    }
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "mcp_ollama", "doctor", *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        for extra in ([], ["--json"])
    ]
    report = json.loads(outputs[1].stdout)
    assert report["settings"]["auth_token"] == "***"
    assert report["settings"]["headers"] == {"X-Auth-Token": "***", "Cookie": "***"}
    assert "auth_token = " in outputs[0].stdout
    for done in outputs:
        for secret in (TOKEN, API_KEY, HEADER_SECRET, "c=1"):
            assert secret not in done.stdout + done.stderr


async def test_check_health_shows_no_secret(client_for: Any) -> None:
    client = await client_for(
        api_key=SecretStr(API_KEY),
        auth_token=SecretStr(TOKEN),
        headers={"X-Auth-Token": HEADER_SECRET, "Proxy-Authorization": "Basic abc"},
    )
    result = await client.call_tool("check_health", {})
    report = ok(result)
    text = json.dumps(report) + "".join(b.text for b in result.content if b.type == "text")
    for secret in (TOKEN, API_KEY, HEADER_SECRET, "Basic abc"):
        assert secret not in text
    assert report["settings"]["api_key"] == "***"


def test_configuration_errors_never_echo_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "OLLAMA_HOST": "https://admin:hunter2-pass@ollama.example",
        "MCP_OLLAMA_AUTH_TOKEN": "hunter2 pass",
        "MCP_OLLAMA_HEADERS": '{"Authorization": hunter2-pass}',  # not even JSON
    }
    for name, value in cases.items():
        with monkeypatch.context() as env:
            env.setenv(name, value)
            assert main(["doctor"]) == 2, name
        captured = capsys.readouterr()
        assert "invalid configuration" in captured.err
        assert "hunter2" not in captured.out + captured.err, name
