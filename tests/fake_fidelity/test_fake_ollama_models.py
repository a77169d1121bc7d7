"""The fake daemon manages models like the real one, judged by the official `ollama` client:
list, show, pull (progress and failures), ps with keep_alive, copy, delete, unknown names.
"""

from __future__ import annotations

import re

import httpx2
import ollama
import pytest

from tests.fake_fidelity.helpers import BOUND
from tests.fake_ollama import FakeOllama, wait_until


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
