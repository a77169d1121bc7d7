"""Hostile peers against the HTTP transports on loopback: a network bind without a token, a
LAN-style `Host` without the token, and `Host` spellings that differ only in case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from mcp_ollama.settings import Settings
from tests.http_helpers import INITIALIZE, MCP_HEADERS, serving
from tests.mcp_helpers import free_port

pytestmark = pytest.mark.anyio

TOKEN = "lan-token-" + "3" * 24


def test_a_network_bind_with_allowed_hosts_but_no_token_refuses_to_start(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "MCP_OLLAMA_CONFIG": str(tmp_path / "config.toml"),
        "MCP_OLLAMA_DATA_DIR": str(tmp_path / "data"),
    }
    argv = [sys.executable, "-m", "mcp_ollama", "--transport", "http", "--host", "0.0.0.0"]
    argv += ["--port", str(free_port()), "--allowed-hosts", "mybox.lan"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=20, check=False)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr
    assert "MCP_OLLAMA_AUTH_TOKEN" in done.stderr


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_a_lan_host_without_the_token_is_refused_and_logged(
    settings: Settings, transport: str
) -> None:
    lan = settings.model_copy(
        update={
            "transport": transport,
            "http_host": "0.0.0.0",
            "allowed_hosts": ["mybox.lan"],
            "auth_token": SecretStr(TOKEN),
        }
    )
    path = "/mcp" if transport == "http" else "/sse"
    with capture_logs() as logs:
        async with serving(lan) as base, httpx2.AsyncClient() as http:
            headers = {**MCP_HEADERS, "Host": "mybox.lan"}
            answers = [
                await http.post(f"{base}{path}", json=INITIALIZE, headers=headers) for _ in range(3)
            ]
    assert {answer.status_code for answer in answers} == {401}
    refusals = [entry for entry in logs if "bearer token refused" in entry["event"]]
    assert len(refusals) == 1  # logged once, however often a peer knocks
    assert refusals[0]["peer"] == "127.0.0.1"
    assert refusals[0]["path"] == path


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_host_and_origin_headers_match_whatever_their_case(
    settings: Settings, transport: str
) -> None:
    configured = settings.model_copy(
        update={"transport": transport, "allowed_hosts": ["MyBox.lan"]}
    )
    async with serving(configured) as base, httpx2.AsyncClient(timeout=10) as http:
        port = base.rsplit(":", 1)[1]
        variants: list[dict[str, Any]] = [
            {"Host": f"LOCALHOST:{port}"},
            {"Host": f"LocalHost:{port}", "Origin": f"HTTP://LOCALHOST:{port}"},
            {"Host": "mybox.LAN"},
        ]
        for variant in variants:
            headers = {**MCP_HEADERS, **variant}
            if transport == "http":
                response = await http.post(f"{base}/mcp", json=INITIALIZE, headers=headers)
                assert response.status_code == 200, variant
            else:
                async with http.stream("GET", f"{base}/sse", headers=headers) as response:
                    assert response.status_code == 200, variant
