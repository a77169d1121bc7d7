"""Security of the tools: the opt-in ones (destructive operations, the pull allowlist, which
auto-pull obeys too) are refused until enabled, and every input limit names itself and the
setting that raises it, before anything reaches the daemon.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests import security_helpers
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import error_text, ok

pytestmark = pytest.mark.anyio

client_for = security_helpers.client_for  # see tests/security_helpers.py


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


@pytest.mark.parametrize(
    "destination",
    [
        "library/llama3.2:1b",
        "registry.ollama.ai/library/llama3.2:1b",
        "Registry.Ollama.AI/Library/LLAMA3.2:1B",
        "library/nomic-embed-text",
        "registry.ollama.ai/library/nomic-embed-text:latest",
    ],
)
async def test_no_spelling_of_an_installed_model_can_be_copied_over_it(
    client_for: Any, fake: FakeOllama, destination: str
) -> None:
    installed = {m.name: m.digest for m in fake.models}
    default = await client_for()
    refused = await default.call_tool(
        "copy_model", {"source": "qwen3:0.6b", "destination": destination}
    )
    assert "already exists" in error_text(refused)
    assert {m.name: m.digest for m in fake.models} == installed  # nothing was replaced


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
    schema = {"type": "object", "description": "d" * 100}
    tool = {"type": "function", "function": {"name": "lookup", "description": "d" * 100}}
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
            # A batch is one call: its prompts count together.
            ("generate_batch", {"model": "llama3.2:1b", "prompts": ["b" * 60, "b" * 60]}),
            # Tool definitions and a format schema travel with the prompt, and count with it.
            ("generate_text", {"model": "llama3.2:1b", "prompt": "p", "format": schema}),
            (
                "chat",
                {
                    "model": "llama3.2:1b",
                    "messages": [{"role": "user", "content": "c"}],
                    "tools": [tool],
                },
            ),
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
            text = error_text(await client.call_tool(name, arguments))
            assert setting in text, (name, text)
            assert "limit" in text
    assert not fake.requests_to("/api/chat")
    assert not fake.requests_to("/api/embed")
