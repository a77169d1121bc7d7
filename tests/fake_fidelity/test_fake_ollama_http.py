"""The fake daemon's raw HTTP matches Ollama's exactly: statuses, error bodies and content
types, Go-style JSON, the load and unload shortcuts, the host check, and the same API served
in process through an ASGI transport.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import pytest

from tests.fake_fidelity.helpers import JSON_CT
from tests.fake_ollama import FakeOllama

ERROR_CASES: list[tuple[str, str, Any, int, str, str]] = [
    ("POST", "/api/delete", {"model": "x"}, 405, "text/plain", "405 method not allowed"),
    ("GET", "/api/generate", None, 405, "text/plain", "405 method not allowed"),
    ("GET", "/api/nope", None, 404, "text/plain", "404 page not found"),
    ("POST", "/api/generate", b"", 400, JSON_CT, "missing request body"),
    ("POST", "/api/chat", b"{", 400, JSON_CT, "unexpected EOF"),
    (
        "POST",
        "/api/generate",
        b"hello",
        400,
        JSON_CT,
        "invalid character 'h' looking for beginning of value",
    ),
    (
        "POST",
        "/api/show",
        b"{bad",
        400,
        JSON_CT,
        "invalid character 'b' looking for beginning of object key string",
    ),
    (
        "POST",
        "/api/generate",
        {"model": 123},
        400,
        JSON_CT,
        "json: cannot unmarshal number into Go struct field GenerateRequest.model of type string",
    ),
    (
        "POST",
        "/api/embed",
        {"model": "nope", "input": "x"},
        404,
        JSON_CT,
        'model "nope" not found, try pulling it first',
    ),
    (
        "POST",
        "/api/embed",
        {"model": "nomic-embed-text", "input": 5},
        400,
        JSON_CT,
        "invalid input type",
    ),
    ("POST", "/api/show", {"model": "missing"}, 404, JSON_CT, "model 'missing:latest' not found"),
    ("POST", "/api/show", {"model": ""}, 400, JSON_CT, "model is required"),
    ("POST", "/api/generate", {"model": ""}, 404, JSON_CT, "model '' not found"),
    ("POST", "/api/chat", {"model": ""}, 400, JSON_CT, "model is required"),
    ("POST", "/api/generate", {"model": "bad name!"}, 400, JSON_CT, "invalid model name"),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2:1b", "prompt": "x", "think": True},
        400,
        JSON_CT,
        '"llama3.2:1b" does not support thinking',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "nomic-embed-text", "prompt": "x"},
        400,
        JSON_CT,
        '"nomic-embed-text" does not support generate',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2:1b", "prompt": "x", "keep_alive": "10"},
        400,
        JSON_CT,
        'time: missing unit in duration "10"',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2:1b", "prompt": "x", "keep_alive": True},
        400,
        JSON_CT,
        "Unsupported type: 'bool'",
    ),
    (
        "POST",
        "/api/chat",
        {"model": "llama3.2:1b", "think": "foo"},
        400,
        JSON_CT,
        'invalid think value: "foo" (must be "high", "medium", "low", "max", true, or false)',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2:1b", "prompt": "x", "options": {"temperature": "hot"}},
        500,
        JSON_CT,
        'option "temperature" must be of type float32',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "llama3.2:1b", "prompt": "x", "format": "xml"},
        500,
        "application/json",
        'invalid format: "\\"xml\\""; expected "json" or a valid JSON Schema object',
    ),
    (
        "POST",
        "/api/copy",
        {"source": "nope", "destination": "x"},
        404,
        JSON_CT,
        'model "nope" not found',
    ),
    ("DELETE", "/api/delete", {"model": "nope"}, 404, JSON_CT, "model 'nope' not found"),
    ("DELETE", "/api/delete", {"model": "a b"}, 400, JSON_CT, 'name "a b" is invalid'),
    ("POST", "/api/pull", {"model": ""}, 400, JSON_CT, "invalid model name"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "content_type", "message"),
    ERROR_CASES,
    ids=[f"{c[0]} {c[1]} {c[3]} {c[5][:30]}" for c in ERROR_CASES],
)
def test_error_responses_match_ollama_exactly(
    http: httpx2.Client,
    method: str,
    path: str,
    body: Any,
    status: int,
    content_type: str,
    message: str,
) -> None:
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    response = http.request(method, path, content=content)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    if content_type == "text/plain":
        assert response.text == message
    else:
        assert response.json() == {"error": message}


def test_content_types_and_go_style_json(http: httpx2.Client) -> None:
    root = http.get("/")
    assert root.text == "Ollama is running"
    assert root.headers["content-type"] == "text/plain; charset=utf-8"
    head = http.head("/")
    assert head.status_code == 200
    assert head.content == b""
    version = http.get("/api/version")
    assert version.headers["content-type"] == JSON_CT
    assert version.text == '{"version":"0.12.3"}'
    assert http.get("/api/tags").text.startswith('{"models":[{"name":"qwen3:0.6b","model":')
    show = http.post("/api/show", json={"model": "llama3.2:1b"})
    assert "\\u003c|start_header_id|\\u003e" in show.text
    assert show.json()["model_info"]["tokenizer.ggml.tokens"] == []
    assert "server" not in show.headers

    with http.stream("POST", "/api/generate", json={"model": "llama3.2:1b", "prompt": "hi"}) as r:
        assert r.headers["content-type"] == "application/x-ndjson"
        assert r.headers.get("transfer-encoding") == "chunked"
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert len(lines) == 13
    assert set(lines[0]) == {"model", "created_at", "response", "done"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", lines[0]["created_at"])
    assert {
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
        "context",
        "done_reason",
    } <= set(lines[-1])


def test_load_and_unload_shortcuts_answer_with_one_object(
    http: httpx2.Client, daemon: FakeOllama
) -> None:
    loaded = http.post("/api/generate", json={"model": "llama3.2:1b"})
    assert loaded.headers["content-type"] == JSON_CT
    body = loaded.json()
    assert body["done_reason"] == "load"
    assert body["response"] == ""
    assert daemon.loaded_models() == ["llama3.2:1b"]
    unloaded = http.post(
        "/api/chat", json={"model": "llama3.2:1b", "messages": [], "keep_alive": 0}
    ).json()
    assert unloaded["done_reason"] == "unload"
    assert unloaded["message"] == {"role": "assistant", "content": ""}
    assert daemon.loaded_models() == []


def test_host_check_rejects_foreign_host_headers(http: httpx2.Client, daemon: FakeOllama) -> None:
    daemon.check_host = True
    assert http.get("/api/version", headers={"host": "localhost:11434"}).status_code == 200
    rebound = http.get("/api/version", headers={"host": "evil.example.com"})
    assert rebound.status_code == 403
    assert rebound.content == b""


@pytest.mark.anyio
async def test_in_process_asgi_transport_serves_the_same_api() -> None:
    fake = FakeOllama()
    transport = httpx2.ASGITransport(app=fake.app())
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:11434") as http:
        tags = (await http.get("/api/tags")).json()
        assert tags["models"][0]["name"] == "qwen3:0.6b"
        generated = await http.post("/api/generate", json={"model": "llama3.2:1b", "prompt": "x"})
        lines = [json.loads(line) for line in generated.text.splitlines()]
        assert lines[-1]["done"] is True
        assert lines[-1]["eval_count"] == 12
