"""Naming what is installed when a model is missing.

Ollama reads a bare name as `name:latest`, so with only `llama3.2:1b` installed, `llama3.2` is not
pulled; the error says which variants are, so the caller can pass one instead of pulling a
different, often larger, model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp_ollama.errors import ModelNotFoundError, OllamaError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import tagged_variants

__all__ = ["explain_missing"]


@asynccontextmanager
async def explain_missing(client: OllamaClient) -> AsyncIterator[None]:
    """Re-raise a `ModelNotFoundError` for a bare name with the tagged variants installed.

    Raises:
        ModelNotFoundError: the model is not installed; `installed` names its variants.
    """
    try:
        yield
    except ModelNotFoundError as exc:
        variants = await _variants(client, exc.model) if not exc.installed else []
        if not variants:
            raise
        raise ModelNotFoundError(exc.model, exc.error, installed=variants) from exc


async def _variants(client: OllamaClient, model: str) -> list[str]:
    if ":" in model.rsplit("/", 1)[-1]:
        return []  # a tagged name names one variant: the others are not what was asked for
    try:
        installed = await client.list_models()
    except OllamaError:
        return []  # the plain error still says what to do
    return tagged_variants(model, [m.name for m in installed])
