"""What never reaches a log line, `doctor`, `check_health` or an error: prompts, answers and
secrets (bearer token, Ollama API key and auth headers), at every log level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr

from mcp_ollama.cli import main
from mcp_ollama.log import redact_secrets
from tests import security_helpers
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.mcp_helpers import ok
from tests.security_helpers import API_KEY, HEADER_SECRET, TOKEN
from tests.test_transports import child_env

pytestmark = pytest.mark.anyio

client_for = security_helpers.client_for  # see tests/security_helpers.py


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
