"""The fake Ollama daemon and the fake `ollama` CLI behave like the real ones.

Facts come from /work/shared/ollama-api.md; the official `ollama` Python client is the judge of
wire compatibility wherever it can be.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx2
import ollama
import pytest

from tests.fake_ollama import (
    BUSY_MESSAGE,
    RUNNER_DIED_MESSAGE,
    FakeOllama,
    FakeServerHandle,
    serve_fake_ollama,
    wait_until,
)
from tests.fake_ollama_cli import install_fake_ollama_cli

ROOT = Path(__file__).resolve().parent.parent
BOUND = 10.0  # upper bound for every wait in this file
JSON_CT = "application/json; charset=utf-8"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeServerHandle]:
    with serve_fake_ollama(FakeOllama()) as handle:
        yield handle


@pytest.fixture
def served(module_server: FakeServerHandle) -> FakeServerHandle:
    """One served fake per module, reset to its initial state for every test."""
    module_server.fake.reset()
    return module_server


@pytest.fixture
def daemon(served: FakeServerHandle) -> FakeOllama:
    return served.fake


@pytest.fixture(scope="module")
def module_clients(
    module_server: FakeServerHandle,
) -> Iterator[tuple[ollama.Client, httpx2.Client]]:
    # Clients are module-scoped only because building one costs ~60 ms (TLS context).
    with (
        ollama.Client(host=module_server.url) as official,
        httpx2.Client(base_url=module_server.url, timeout=BOUND) as raw,
    ):
        yield official, raw


@pytest.fixture
def client(
    served: FakeServerHandle, module_clients: tuple[ollama.Client, httpx2.Client]
) -> ollama.Client:
    """The official `ollama` client pointed at the served fake."""
    return module_clients[0]


@pytest.fixture
def http(
    served: FakeServerHandle, module_clients: tuple[ollama.Client, httpx2.Client]
) -> httpx2.Client:
    """A raw httpx2 client pointed at the served fake."""
    return module_clients[1]


@pytest.fixture
def cli(tmp_path: Path) -> Path:
    return install_fake_ollama_cli(tmp_path / "bin")


def run_cli(
    cli: Path, *args: str, host: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_HOST": host, **(extra_env or {})}
    return subprocess.run(
        [str(cli), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def version_at(port: int) -> str | None:
    try:
        response = httpx2.get(f"http://127.0.0.1:{port}/api/version", timeout=1.0)
    except httpx2.HTTPError:
        return None
    version: str = response.json()["version"]
    return version


def eval_rate(response: Any) -> float:
    rate: float = response.eval_count / response.eval_duration * 1e9
    return rate


def read_lines(http: httpx2.Client, path: str, body: Any, sink: list[str]) -> None:
    """Stream a POST and collect its non-empty lines into ``sink`` (kept if it fails)."""
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        sink.extend(line for line in response.iter_lines() if line)


class LineReader:
    """Reads a subprocess pipe on a thread so that waits on its output stay bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: str, timeout: float = BOUND) -> re.Match[str]:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                try:
                    line = self._lines.get(timeout=0.05)
                except queue.Empty:
                    continue
                if line is None:
                    break
                self.seen.append(line)
                if match := re.search(pattern, line):
                    return match
        finally:
            timer.cancel()
        raise AssertionError(f"{pattern!r} not seen; got {self.seen!r}")

    def join(self) -> None:
        self._thread.join(BOUND)


# ---------------------------------------------------------------------------------------------
# The official client against the served fake
# ---------------------------------------------------------------------------------------------


def test_list_reports_the_default_models_newest_first(client: ollama.Client) -> None:
    models = client.list().models
    assert [m.model for m in models] == ["qwen3:0.6b", "llama3.2:1b", "nomic-embed-text:latest"]
    llama = models[1]
    assert llama.size == 1_321_098_329
    assert re.fullmatch(r"[0-9a-f]{64}", llama.digest or "")
    assert llama.details is not None
    assert llama.details.family == "llama"
    assert llama.details.format == "gguf"
    assert llama.details.quantization_level == "Q8_0"
    stamps = [m.modified_at for m in models]
    assert all(s is not None and s.tzinfo is not None for s in stamps)
    assert stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]


def test_show_reports_context_length_capabilities_and_modelfile(client: ollama.Client) -> None:
    llama = client.show("llama3.2:1b")
    assert llama.modelinfo is not None
    assert llama.modelinfo["general.architecture"] == "llama"
    assert llama.modelinfo["llama.context_length"] == 131072
    assert llama.capabilities == ["completion", "tools"]
    assert (llama.license or "").startswith("LLAMA 3.2 COMMUNITY LICENSE AGREEMENT")
    assert "<|start_header_id|>" in (llama.template or "")
    assert (llama.parameters or "").startswith(
        'stop                           "<|start_header_id|>"'
    )
    assert "# FROM llama3.2:1b" in (llama.modelfile or "")

    qwen = client.show("QWEN3:0.6b")  # names match case-insensitively
    assert qwen.capabilities == ["completion", "tools", "thinking"]
    nomic = client.show("nomic-embed-text")  # ":latest" is implied
    assert nomic.capabilities == ["embedding"]
    assert nomic.modelinfo is not None
    assert nomic.modelinfo["nomic-bert.embedding_length"] == 768


def test_generate_without_streaming_returns_text_and_metrics(client: ollama.Client) -> None:
    result = client.generate(model="llama3.2:1b", prompt="Why is the sky blue?")
    assert result.done is True
    assert result.done_reason == "stop"
    assert len((result.response or "").split()) == 12
    assert result.eval_count == 12
    assert result.prompt_eval_count == 5
    assert result.eval_duration
    assert result.total_duration
    assert result.total_duration >= result.eval_duration > 0
    assert result.context is not None
    assert len(result.context) >= result.prompt_eval_count


def test_generate_streams_one_chunk_per_token_and_is_deterministic(
    client: ollama.Client,
) -> None:
    chunks = list(client.generate(model="LLAMA3.2:1B", prompt="hi", stream=True))
    assert len(chunks) == 13
    assert [c.done for c in chunks] == [False] * 12 + [True]
    assert chunks[0].model == "LLAMA3.2:1B"  # the name exactly as sent
    assert chunks[-1].eval_count == 12
    assert chunks[-1].response == ""
    streamed = "".join(c.response or "" for c in chunks)
    assert streamed == client.generate(model="llama3.2:1b", prompt="hi").response


def test_chat_on_a_thinking_model_streams_thinking_before_content(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "Hello there"}]
    chunks = list(client.chat(model="qwen3:0.6b", messages=messages, stream=True))
    kinds = ["thinking" if c.message.thinking else "content" for c in chunks[:-1]]
    assert "thinking" in kinds
    assert "content" in kinds
    assert kinds == sorted(kinds, key=lambda kind: kind != "thinking")
    final = chunks[-1]
    assert final.done is True
    assert final.message.content == ""
    assert final.eval_count == len(chunks) - 1

    whole = client.chat(model="qwen3:0.6b", messages=messages, think=False)
    assert whole.message.thinking is None
    assert whole.message.role == "assistant"
    assert whole.message.content


def test_pull_streams_increasing_progress_then_lists_the_model(client: ollama.Client) -> None:
    events = list(client.pull("tinyllama", stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    first_layer = events[1]
    assert first_layer.digest is not None
    assert first_layer.status == f"pulling {first_layer.digest[7:19]}"
    assert first_layer.completed is None  # omitted while zero
    progress = [e.completed or 0 for e in events if e.digest == first_layer.digest][1:]
    assert len(progress) >= 4
    assert progress == sorted(progress)
    assert progress[-1] == first_layer.total
    assert "tinyllama:latest" in [m.model for m in client.list().models]


def test_pullable_lists_models_that_are_not_installed_first(daemon: FakeOllama) -> None:
    first = next(iter(daemon.pullable))
    assert first == "tinyllama:latest"
    assert daemon.get_model(first) is None
    daemon.pullable.add("mistral:7b")
    assert list(daemon.pullable)[-1] == "mistral:7b"


def test_pull_of_an_unknown_model_fails_inside_a_200_stream(
    client: ollama.Client, http: httpx2.Client
) -> None:
    events = client.pull("no-such-model", stream=True)
    assert next(events).status == "pulling manifest"
    with pytest.raises(ollama.ResponseError) as info:
        next(events)
    assert info.value.status_code == -1
    assert info.value.error == "pull model manifest: file does not exist"

    not_streamed = http.post("/api/pull", json={"model": "no-such-model", "stream": False})
    assert not_streamed.status_code == 500
    assert not_streamed.headers["content-type"] == "application/json"
    assert not_streamed.json() == {"error": "pull model manifest: file does not exist"}
    pulled = http.post("/api/pull", json={"model": "gemma3:270m", "stream": False})
    assert pulled.json() == {"status": "success"}


def test_embed_returns_deterministic_unit_vectors(client: ollama.Client) -> None:
    result = client.embed(model="nomic-embed-text", input=["hello world", "hello world", "other"])
    first, second, third = result.embeddings
    assert len(first) == 768
    assert first == second
    assert first != third
    assert math.isclose(sum(x * x for x in first), 1.0, rel_tol=1e-5)
    assert client.embed(model="nomic-embed-text", input="hello world").embeddings == [first]
    assert len(client.embeddings(model="nomic-embed-text", prompt="hello").embedding) == 768


def test_ps_reports_used_models_until_keep_alive_expires(
    client: ollama.Client, daemon: FakeOllama
) -> None:
    assert client.ps().models == []
    client.generate(model="llama3.2:1b", prompt="hi", keep_alive="10m")
    client.embed(model="nomic-embed-text", input="x", keep_alive=-1)
    running = client.ps().models
    assert [m.model for m in running] == ["nomic-embed-text:latest", "llama3.2:1b"]
    forever, llama = running[0], running[1]
    assert forever.expires_at is not None
    assert llama.expires_at is not None
    assert forever.expires_at.year - llama.expires_at.year > 200
    assert llama.size_vram == 0
    assert llama.context_length == 4096

    client.generate(model="qwen3:0.6b", prompt="hi", keep_alive="1s")
    assert "qwen3:0.6b" in daemon.loaded_models()
    wait_until(lambda: "qwen3:0.6b" not in daemon.loaded_models(), timeout=BOUND)

    unloaded = client.generate(model="llama3.2:1b", prompt="", keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert [m.model for m in client.ps().models] == ["nomic-embed-text:latest"]


def test_copy_then_delete(client: ollama.Client) -> None:
    assert client.copy("llama3.2:1b", "my-llama").status == "success"
    models = {m.model: m for m in client.list().models}
    assert models["my-llama:latest"].digest == models["llama3.2:1b"].digest
    assert client.delete("my-llama").status == "success"
    with pytest.raises(ollama.ResponseError) as info:
        client.delete("my-llama")
    assert info.value.status_code == 404
    assert info.value.error == "model 'my-llama' not found"


def test_unknown_models_raise_response_error_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.generate(model="missing-model", prompt="hi")
    assert info.value.status_code == 404
    assert info.value.error == "model 'missing-model' not found"
    with pytest.raises(ollama.ResponseError) as info:
        client.show("missing-model")
    assert info.value.error == "model 'missing-model:latest' not found"


def test_options_num_predict_and_stop_end_generation(client: ollama.Client) -> None:
    capped = client.generate(model="llama3.2:1b", prompt="hi", options={"num_predict": 3})
    assert capped.eval_count == 3
    assert capped.done_reason == "length"
    assert len((capped.response or "").split()) == 3
    longer = client.generate(model="llama3.2:1b", prompt="hi", options={"num_predict": 30})
    assert longer.eval_count == 30  # the made-up answer runs on until num_predict cuts it
    assert longer.done_reason == "length"

    full = client.generate(model="llama3.2:1b", prompt="hi").response or ""
    stop_word = full.split()[4]
    stopped = client.generate(model="llama3.2:1b", prompt="hi", options={"stop": [stop_word]})
    assert stopped.done_reason == "stop"
    assert stopped.response is not None
    assert stop_word not in stopped.response
    assert full.startswith(stopped.response)


def test_format_json_and_schemas_produce_valid_json(client: ollama.Client) -> None:
    assert isinstance(
        json.loads(client.generate(model="llama3.2:1b", prompt="hi", format="json").response or ""),
        dict,
    )
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    reply = client.chat(
        model="llama3.2:1b", messages=[{"role": "user", "content": "Who?"}], format=schema
    )
    data = json.loads(reply.message.content or "")
    assert set(data) == {"name", "age"}
    assert isinstance(data["age"], int)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_tool_calls_and_the_tools_capability(client: ollama.Client, daemon: FakeOllama) -> None:
    asked = [{"role": "user", "content": "Please call tool get_weather for me"}]
    reply = client.chat(model="llama3.2:1b", messages=asked, tools=[WEATHER_TOOL])
    assert reply.message.content == ""
    assert reply.message.tool_calls is not None
    call = reply.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Tokyo"}

    plain = client.chat(
        model="llama3.2:1b", messages=[{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL]
    )
    assert plain.message.tool_calls is None
    assert plain.message.content

    daemon.add_model("gemma3:270m", family="gemma3", capabilities=["completion"])
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="gemma3:270m", messages=asked, tools=[WEATHER_TOOL])
    assert info.value.status_code == 400
    assert info.value.error == "registry.ollama.ai/library/gemma3:270m does not support tools"


def test_scripted_responses_are_consumed_in_order(
    client: ollama.Client, daemon: FakeOllama
) -> None:
    daemon.script_response("First answer.")
    daemon.script_response("Second.", thinking="Hmm.", model="qwen3:0.6b")
    daemon.script_response(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}])
    hello = [{"role": "user", "content": "hello"}]
    assert client.generate(model="llama3.2:1b", prompt="a").response == "First answer."
    tool_reply = client.chat(model="llama3.2:1b", messages=hello)  # skips the qwen-only script
    assert tool_reply.message.tool_calls is not None
    assert tool_reply.message.tool_calls[0].function.name == "lookup"
    qwen = client.chat(model="qwen3:0.6b", messages=hello)
    assert qwen.message.content == "Second."
    assert qwen.message.thinking == "Hmm."

    daemon.script_response("partial", error="llama runner process has terminated")
    with pytest.raises(ollama.ResponseError) as info:
        list(client.generate(model="llama3.2:1b", prompt="x", stream=True))
    assert info.value.status_code == -1


def test_requests_are_recorded_with_parsed_bodies_and_headers(
    client: ollama.Client, daemon: FakeOllama
) -> None:
    client.generate(model="llama3.2:1b", prompt="hi", options={"temperature": 0})
    [recorded] = daemon.requests_to("/api/generate")
    assert recorded.method == "POST"
    assert recorded.body["options"] == {"temperature": 0}
    assert recorded.body["stream"] is False
    assert recorded.headers["user-agent"].startswith("ollama-python/")


# ---------------------------------------------------------------------------------------------
# Raw HTTP: exact statuses, bodies and content types
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Timing: rates, time to first token, disconnects
# ---------------------------------------------------------------------------------------------


def test_emitted_token_rate_matches_tokens_per_second(
    client: ollama.Client, daemon: FakeOllama
) -> None:
    daemon.tokens_per_second = 200
    daemon.ttft = 0.05
    result = client.generate(model="llama3.2:1b", prompt="count", options={"num_predict": 40})
    assert result.eval_count == 40
    assert eval_rate(result) == pytest.approx(200, rel=0.05)
    assert result.prompt_eval_duration is not None
    assert result.prompt_eval_duration >= 0.05e9


def test_per_model_speed_overrides_the_global_one(
    client: ollama.Client, daemon: FakeOllama
) -> None:
    daemon.add_model("slow-model", tokens_per_second=100)
    daemon.add_model("fast-model", tokens_per_second=1000)
    daemon.response_tokens = 20
    slow = client.generate(model="slow-model", prompt="x")
    fast = client.generate(model="fast-model", prompt="x")
    assert eval_rate(slow) == pytest.approx(100, rel=0.05)
    assert eval_rate(fast) > 3 * eval_rate(slow)


def test_generation_gate_holds_tokens_and_peak_counts_parallel_requests(
    served: FakeServerHandle, daemon: FakeOllama
) -> None:
    gate = threading.Event()
    daemon.generation_gate = gate
    results: list[int] = []

    def generate() -> None:
        with ollama.Client(host=served.url) as own:
            results.append(own.generate(model="llama3.2:1b", prompt="x").eval_count or 0)

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_until(lambda: daemon.active_requests == 3, timeout=BOUND)
    assert results == []
    gate.set()
    for thread in threads:
        thread.join(BOUND)
    assert results == [12, 12, 12]
    assert daemon.peak_active_requests == 3


def test_closing_a_stream_early_is_seen_by_the_daemon(
    http: httpx2.Client, daemon: FakeOllama
) -> None:
    daemon.tokens_per_second = 20
    daemon.response_tokens = 200
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "long story"}]}
    with http.stream("POST", "/api/chat", json=body) as response:
        first = json.loads(next(response.iter_lines()))
        assert first["done"] is False
    assert daemon.disconnected.wait(BOUND)
    assert daemon.disconnects == 1
    assert daemon.disconnect_paths == ["/api/chat"]
    wait_until(lambda: daemon.active_requests == 0, timeout=BOUND)


# ---------------------------------------------------------------------------------------------
# Fault modes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [("http_500", 500, RUNNER_DIED_MESSAGE), ("http_503", 503, BUSY_MESSAGE)],
)
def test_http_faults_fail_before_streaming_but_spare_liveness(
    client: ollama.Client,
    http: httpx2.Client,
    daemon: FakeOllama,
    fault: str,
    status: int,
    message: str,
) -> None:
    daemon.fault = fault
    with pytest.raises(ollama.ResponseError) as info:
        list(client.generate(model="llama3.2:1b", prompt="hi", stream=True))
    assert info.value.status_code == status
    assert info.value.error == message
    assert http.get("/api/version").status_code == 200
    assert http.get("/api/tags").status_code == status


def test_drop_mid_stream_cuts_the_chunked_body(http: httpx2.Client, daemon: FakeOllama) -> None:
    daemon.fault = "drop_mid_stream"
    received: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        read_lines(http, "/api/generate", {"model": "llama3.2:1b", "prompt": "x"}, received)
    assert len(received) == daemon.fault_after_chunks
    with pytest.raises(httpx2.RemoteProtocolError):
        http.get("/api/tags")


def test_malformed_line_breaks_json_decoding(client: ollama.Client, daemon: FakeOllama) -> None:
    daemon.fault = "malformed_line"
    with pytest.raises(json.JSONDecodeError):
        list(client.generate(model="llama3.2:1b", prompt="hi", stream=True))


def test_error_line_arrives_inside_a_200_stream(
    client: ollama.Client, http: httpx2.Client, daemon: FakeOllama
) -> None:
    daemon.set_fault("error_line", count=1)
    with http.stream("POST", "/api/pull", json={"model": "gemma3:270m"}) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[-1] == {"error": RUNNER_DIED_MESSAGE}
    assert len(lines) == daemon.fault_after_chunks + 1
    assert daemon.fault is None

    daemon.fault = "error_line"
    with pytest.raises(ollama.ResponseError) as info:
        list(
            client.chat(
                model="llama3.2:1b", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    assert info.value.status_code == -1
    assert info.value.error == RUNNER_DIED_MESSAGE


def test_fault_count_and_paths_limit_the_fault(client: ollama.Client, daemon: FakeOllama) -> None:
    daemon.set_fault("http_500", count=2, paths={"/api/generate"})
    assert client.list().models
    for _ in range(2):
        with pytest.raises(ollama.ResponseError):
            client.generate(model="llama3.2:1b", prompt="hi")
    assert client.generate(model="llama3.2:1b", prompt="hi").done
    assert daemon.fault is None


def test_slow_fault_stalls_after_the_first_chunk_and_shutdown_stays_bounded() -> None:
    fake = FakeOllama()
    fake.fault = "slow"
    body = {"model": "llama3.2:1b", "prompt": "x"}
    with serve_fake_ollama(fake) as handle:
        timeout = httpx2.Timeout(BOUND, read=0.3)
        with httpx2.Client(base_url=handle.url, timeout=timeout) as http:
            received: list[str] = []
            with pytest.raises(httpx2.ReadTimeout):
                read_lines(http, "/api/generate", body, received)
            assert len(received) == 1
            assert fake.disconnected.wait(BOUND)

            with http.stream("POST", "/api/generate", json=body) as stalled:
                lines = stalled.iter_lines()
                assert json.loads(next(lines))["done"] is False
                handle.stop(timeout=BOUND)  # raises if a stalled stream kept it alive
                with pytest.raises(httpx2.RemoteProtocolError):
                    list(lines)
    assert not handle.running


def test_pull_hang_never_finishes_until_the_client_leaves(
    http: httpx2.Client, daemon: FakeOllama
) -> None:
    daemon.pull_hang = True
    with http.stream("POST", "/api/pull", json={"model": "gemma3:270m"}) as response:
        lines = response.iter_lines()
        statuses = [json.loads(next(lines))["status"] for _ in range(3)]
    assert statuses[0] == "pulling manifest"
    assert statuses[1].startswith("pulling ")
    assert daemon.disconnected.wait(BOUND)
    assert daemon.get_model("gemma3:270m") is None


def test_stopped_server_refuses_connections_and_restarts_on_the_same_port() -> None:
    with serve_fake_ollama() as handle, httpx2.Client(timeout=BOUND) as http:
        port = handle.port
        handle.stop()
        with pytest.raises(httpx2.ConnectError):
            http.get(f"{handle.url}/api/version")
        handle.start()
        assert handle.port == port
        assert http.get(f"{handle.url}/api/version").json() == {"version": "0.12.3"}


def test_module_runs_as_a_process_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.fake_ollama", "--host", "127.0.0.1", "--port", "0"]
    with subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        reader = LineReader(proc.stderr)
        try:
            match = reader.wait_for(r'msg="Listening on 127\.0\.0\.1:(\d+) \(version 0\.12\.3\)"')
            assert version_at(int(match.group(1))) == "0.12.3"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()
        assert proc.stdout.read() == ""
    assert re.match(r"time=\S+ level=INFO source=routes\.go:\d+ msg=", reader.seen[0])


# ---------------------------------------------------------------------------------------------
# The fake `ollama` executable
# ---------------------------------------------------------------------------------------------


def test_cli_list_prints_the_tablewriter_table(cli: Path, served: FakeServerHandle) -> None:
    listing = run_cli(cli, "list", host=served.ollama_host)
    assert listing.returncode == 0
    assert listing.stderr == ""
    assert listing.stdout == (
        "NAME                       ID              SIZE      MODIFIED    \n"
        "qwen3:0.6b                 7df6b6e09427    522 MB    5 hours ago    \n"
        "llama3.2:1b                baf6a787fdff    1.3 GB    2 days ago     \n"
        "nomic-embed-text:latest    0a109f422b47    274 MB    3 weeks ago    \n"
    )


def test_cli_run_prints_the_answer_then_a_blank_line(cli: Path, served: FakeServerHandle) -> None:
    served.fake.response_text = "Paris is the capital of France."
    answer = run_cli(
        cli,
        "run",
        "llama3.2:1b",
        "Capital",
        "of",
        "France?",
        "--nowordwrap",
        host=served.ollama_host,
    )
    assert answer.returncode == 0
    assert answer.stdout == "Paris is the capital of France.\n\n"
    assert "\x1b[" in answer.stderr  # the spinner: callers must strip ANSI from stderr
    [request] = served.fake.requests_to("/api/generate")
    assert request.body == {
        "model": "llama3.2:1b",
        "prompt": " Capital of France?",  # stdin (DEVNULL, empty) is prepended with a space
        "suffix": "",
        "system": "",
        "template": "",
        "options": {},
    }

    thinking = run_cli(cli, "run", "qwen3:0.6b", "hi", "--nowordwrap", host=served.ollama_host)
    assert thinking.stdout.startswith("Thinking...\n")
    assert "\n...done thinking.\n\nParis is the capital of France.\n\n" in thinking.stdout
    hidden = run_cli(
        cli, "run", "qwen3:0.6b", "hi", "--hidethinking", "--nowordwrap", host=served.ollama_host
    )
    assert hidden.stdout == "Paris is the capital of France.\n\n"
    assert served.fake.requests_to("/api/generate")[-1].body["think"] is True


def test_cli_pull_show_and_missing_models(cli: Path, served: FakeServerHandle) -> None:
    pulled = run_cli(cli, "pull", "gemma3:270m", host=served.ollama_host)
    assert pulled.returncode == 0
    assert pulled.stdout == ""
    assert ANSI.sub("", pulled.stderr).rstrip().endswith("success")
    assert served.fake.get_model("gemma3:270m") is not None

    missing = run_cli(cli, "run", "no-such-model", "hi", "--nowordwrap", host=served.ollama_host)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.endswith("Error: pull model manifest: file does not exist\n")

    show = run_cli(cli, "show", "llama3.2:1b", host=served.ollama_host)
    assert show.stdout.startswith(
        "  Model\n"
        "    architecture        llama     \n"
        "    parameters          1.2B      \n"
        "    context length      131072    \n"
    )
    assert "  Capabilities\n    completion    \n    tools         \n\n" in show.stdout


def test_cli_version_and_an_unreachable_daemon(cli: Path, served: FakeServerHandle) -> None:
    version = run_cli(cli, "--version", host=served.ollama_host)
    assert (version.returncode, version.stdout) == (0, "ollama version is 0.12.3\n")

    nobody = f"127.0.0.1:{free_port()}"
    offline = run_cli(cli, "-v", host=nobody)
    assert offline.returncode == 0
    assert offline.stdout == (
        "Warning: could not connect to a running Ollama instance\n"
        "Warning: client version is 0.12.3\n"
    )
    listing = run_cli(cli, "list", host=nobody)
    assert listing.returncode == 1
    assert listing.stdout == ""
    assert listing.stderr == (
        "Error: could not connect to ollama server, run 'ollama serve' to start it\n"
    )


def test_cli_serve_starts_a_daemon_and_reports_a_busy_port(
    cli: Path, served: FakeServerHandle
) -> None:
    port = free_port()
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}"}
    with subprocess.Popen(
        [str(cli), "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        assert proc.stdout is not None
        reader = LineReader(proc.stderr)
        try:
            wait_until(
                lambda: proc.poll() is not None or version_at(port) is not None,
                timeout=BOUND,
                interval=0.05,
            )
            assert version_at(port) == "0.12.3"
            proc.terminate()
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()
        reader.wait_for(rf'msg="Listening on 127\.0\.0\.1:{port} \(version 0\.12\.3\)"')
        assert proc.stdout.read() == ""

    busy = run_cli(cli, "serve", host=served.ollama_host)
    assert busy.returncode == 1
    assert busy.stderr == (
        f"Error: listen tcp 127.0.0.1:{served.port}: bind: address already in use\n"
    )


def test_cli_serve_failure_modes(cli: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    failed = run_cli(cli, "serve", host=host, extra_env={"FAKE_OLLAMA_MODE": "fail_serve"})
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: ")

    env = {**os.environ, "OLLAMA_HOST": host, "FAKE_OLLAMA_MODE": "never_ready"}
    with subprocess.Popen(
        [str(cli), "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        reader = LineReader(proc.stderr)
        try:
            reader.wait_for("server config")
            assert version_at(int(host.rsplit(":", 1)[1])) is None
            proc.terminate()
            assert proc.wait(BOUND) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(BOUND)
            reader.join()


def test_cli_logs_argv_and_rejects_unknown_commands(
    cli: Path, served: FakeServerHandle, tmp_path: Path
) -> None:
    log = tmp_path / "argv.jsonl"
    extra = {"FAKE_OLLAMA_CLI_LOG": str(log)}
    assert run_cli(cli, "ls", host=served.ollama_host, extra_env=extra).returncode == 0
    unknown = run_cli(cli, "frobnicate", "--x", host=served.ollama_host, extra_env=extra)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith('Error: unknown command "frobnicate" for "ollama"\n')
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged == [["ls"], ["frobnicate", "--x"]]


def test_cli_model_management_commands(cli: Path, served: FakeServerHandle) -> None:
    host = served.ollama_host
    assert run_cli(cli, "cp", "llama3.2:1b", "mine", host=host).stdout == (
        "copied 'llama3.2:1b' to 'mine'\n"
    )
    assert run_cli(cli, "rm", "mine", host=host).stdout == "deleted 'mine'\n"
    gone = run_cli(cli, "rm", "mine", host=host)
    assert (gone.returncode, gone.stderr) == (1, "Error: model 'mine' not found\n")

    served.fake.load_model("llama3.2:1b")
    ps = run_cli(cli, "ps", host=host)
    assert ps.stdout.splitlines()[0].split() == [
        "NAME",
        "ID",
        "SIZE",
        "PROCESSOR",
        "CONTEXT",
        "UNTIL",
    ]
    assert "100% CPU     4096       4 minutes from now" in ps.stdout
    assert run_cli(cli, "stop", "llama3.2:1b", host=host).returncode == 0
    assert served.fake.loaded_models() == []
    missing = run_cli(cli, "stop", "nope", host=host)
    assert missing.stderr == 'Error: couldn\'t find model "nope" to stop\n'
