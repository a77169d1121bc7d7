"""Security of the HTTP transports, end to end: the guards (Host syntax and allowlist, Origin,
bearer token, body size) and the bind rule with its explicit override.

The basic 421/403/401/413 answers are covered in test_transports.py; these are the cases around
them: malformed Host headers, the SSE message endpoint, chunked bodies, empty tokens.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from pydantic import SecretStr, ValidationError

from mcp_ollama.cli import main
from mcp_ollama.server.http_security import BearerTokenMiddleware
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeServerHandle
from tests.mcp_helpers import free_port
from tests.security_helpers import TOKEN
from tests.test_transports import INITIALIZE, MCP_HEADERS, serving

pytestmark = pytest.mark.anyio


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
