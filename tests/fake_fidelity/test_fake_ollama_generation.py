"""The fake daemon generates like the real one, judged by the official `ollama` client:
generate, chat with thinking, embed, options, formats, tool calls, scripted answers, the
request log, and its timing (token rate, per-model speed, the generation gate, disconnects).
"""

from __future__ import annotations

import json
import math
import threading

import httpx2
import ollama
import pytest

from tests.fake_fidelity.helpers import BOUND, eval_rate
from tests.fake_ollama import FakeOllama, FakeServerHandle, wait_until


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


def test_embed_returns_deterministic_unit_vectors(client: ollama.Client) -> None:
    result = client.embed(model="nomic-embed-text", input=["hello world", "hello world", "other"])
    first, second, third = result.embeddings
    assert len(first) == 768
    assert first == second
    assert first != third
    assert math.isclose(sum(x * x for x in first), 1.0, rel_tol=1e-5)
    assert client.embed(model="nomic-embed-text", input="hello world").embeddings == [first]
    assert len(client.embeddings(model="nomic-embed-text", prompt="hello").embedding) == 768


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
