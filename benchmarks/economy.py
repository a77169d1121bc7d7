"""The figures of issue 12: what the server costs an agent's context window, and the model list
with 200 models installed.

Sizes are deterministic (the same on every run); the list latency is a ratio to a direct
`GET /api/tags` on the same fake daemon, measured alternately in the same run.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2

from benchmarks.harness import (
    MODEL,
    Figure,
    fake_daemon,
    percentile,
    scratch_dir,
    server_env,
    stdio_server,
)
from tests.economy_helpers import install_models, minified, wire_size
from tests.mcp_helpers import text_of

__all__ = ["LIST_MODELS", "answer_sizes", "big_model_list", "tool_list_sizes"]

LIST_MODELS = 200
# One call per core tool with what an agent would send; embed is held to 2 texts x 768.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("generate_text", {"model": MODEL, "prompt": "Say hi"}),
    ("chat", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}),
    ("embed", {"model": "nomic-embed-text", "input": ["hello", "world"]}),
    ("list_local_models", {}),
    ("show_model", {"model": MODEL}),
    ("pull_model", {"model": "tinyllama"}),
    ("benchmark_model", {"model": MODEL, "runs": 2}),
    ("compare_models", {"models": [MODEL, "qwen3:0.6b"]}),
    ("check_health", {}),
]


async def tool_list_sizes(*, quick: bool = False) -> list[Figure]:
    """`tools/list`, minified, with the default toolset and with every tool enabled."""
    figures = []
    targets = {"default": 12_000, "all": 36_000}
    with fake_daemon() as handle:
        for toolset, target in targets.items():
            with scratch_dir() as tmp:
                extra = {"MCP_OLLAMA_ALLOW_DESTRUCTIVE": "true"}
                if toolset != "default":
                    extra["MCP_OLLAMA_TOOLS"] = toolset
                async with stdio_server(server_env(handle, tmp, **extra)) as ours:
                    tools = (await ours.client.list_tools()).tools
            listed = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
            size = minified(listed)
            per_tool = {t["name"]: minified(t) for t in listed}
            figures.append(
                Figure(
                    f"tools/list chars, {toolset} toolset",
                    size,
                    "chars",
                    f"<= {target:,}",
                    size <= target,
                    {"tools": len(listed), "per_tool": per_tool},
                )
            )
    return figures


async def answer_sizes(*, quick: bool = False) -> list[Figure]:
    """The text content (what the model reads) and the whole result of each core tool."""
    figures = []
    with fake_daemon() as handle, scratch_dir() as tmp:
        async with stdio_server(server_env(handle, tmp)) as ours:
            results = {name: await ours.client.call_tool(name, args) for name, args in CALLS}
    for name, result in results.items():
        if result.is_error:
            raise RuntimeError(f"{name} failed: {text_of(result)}")
    sizes = {
        name: {"text": len(text_of(result)), "whole": wire_size(result)}
        for name, result in results.items()
    }
    answer = (results["generate_text"].structured_content or {}).get("text", "")
    over = sizes["generate_text"]["text"] - len(answer)
    figures.append(
        Figure(
            "generate_text text over the answer",
            over,
            "chars",
            "<= 200",
            over <= 200,
            {"answer_chars": len(answer), **sizes["generate_text"]},
        )
    )
    embed = sizes["embed"]["text"]
    figures.append(
        Figure("embed text, 2 texts x 768", embed, "chars", "<= 300", embed <= 300, sizes["embed"])
    )
    compare = sizes["compare_models"]["text"]
    figures.append(
        Figure(
            "compare_models text, 2 models",
            compare,
            "chars",
            "<= 2,500",
            compare <= 2_500,
            sizes["compare_models"],
        )
    )
    for name, size in sizes.items():
        figures.append(
            Figure(f"answer text, {name}", size["text"], "chars", "(reported)", None, size)
        )
    return figures


async def big_model_list(*, quick: bool = False) -> list[Figure]:
    """list_local_models with 200 installed models: the whole response's size, and its p50
    through a real MCP client over a direct `GET /api/tags` (alternated, same run)."""
    calls = 20 if quick else 100
    with fake_daemon() as handle, scratch_dir() as tmp:
        install_models(handle.fake, LIST_MODELS)
        async with (
            stdio_server(server_env(handle, tmp)) as ours,
            httpx2.AsyncClient(base_url=handle.url) as direct,
        ):
            first = await ours.client.call_tool("list_local_models", {})
            if first.is_error:
                raise RuntimeError(f"list_local_models failed: {text_of(first)}")
            models = len((first.structured_content or {}).get("models", []))
            through: list[float] = []
            straight: list[float] = []
            for _ in range(calls):
                started = time.perf_counter()
                response = await direct.get("/api/tags")
                response.json()
                straight.append(time.perf_counter() - started)
                started = time.perf_counter()
                await ours.client.call_tool("list_local_models", {})
                through.append(time.perf_counter() - started)
    size = wire_size(first)
    ratio = percentile(through, 50) / percentile(straight, 50)
    detail = {
        "models": models,
        "text_chars": len(text_of(first)),
        "structured_chars": minified(first.structured_content),
        "mcp_p50_ms": percentile(through, 50) * 1000,
        "direct_p50_ms": percentile(straight, 50) * 1000,
        "calls": calls,
    }
    return [
        Figure(
            f"list_local_models response, {LIST_MODELS} models",
            size / 1000,
            "KB",
            "<= 60 KB",
            size <= 60_000,
            detail,
        ),
        Figure(
            f"list_local_models p50 / GET /api/tags p50, {LIST_MODELS} models",
            ratio,
            "x",
            "<= 3",
            ratio <= 3,
            detail,
        ),
    ]
