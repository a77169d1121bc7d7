"""What the economy tests and `benchmarks/economy.py` both measure: sizes as an agent pays for
them, and a daemon with hundreds of models installed."""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult

from tests.fake_ollama import FakeOllama

__all__ = ["install_models", "minified", "wire_size"]

FAMILIES = ("llama", "qwen3", "gemma3", "mistral", "phi3")
QUANTIZATIONS = ("Q4_K_M", "Q8_0", "F16")


def minified(data: Any) -> int:
    """Characters of `data` as JSON without whitespace."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False))


def wire_size(result: CallToolResult) -> int:
    """The result as it travels: JSON without whitespace, absent fields left out."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def install_models(fake: FakeOllama, total: int) -> None:
    """Install models until the fake has `total`, named and sized like a real collection."""
    for i in range(total - len(fake.models)):
        fake.add_model(
            f"{FAMILIES[i % 5]}-variant-{i}:{1 + i % 30}b",
            family=FAMILIES[i % 5],
            parameter_count=(1 + i % 30) * 1_000_000_000,
            quantization_level=QUANTIZATIONS[i % 3],
            context_length=8192 * (1 + i % 16),
            capabilities=("completion", "tools") if i % 2 else ("completion",),
        )
