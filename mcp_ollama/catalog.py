"""The model catalogue: installed models enriched with context window, capabilities and load state.

The list is cached in memory for `ttl` seconds; per-model details from `/api/show` are cached by
digest (a digest names immutable content, so they never go stale).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import anyio

from mcp_ollama.client import OllamaClient
from mcp_ollama.errors import OllamaError
from mcp_ollama.names import canonical_name, same_model
from mcp_ollama.results import LocalModel, ModelList, human_bytes
from mcp_ollama.types import ModelSummary, ShowResponse

__all__ = ["ModelCatalog", "to_local_model"]

SHOW_CONCURRENCY = 4


def to_local_model(summary: ModelSummary, show: ShowResponse | None, *, loaded: bool) -> LocalModel:
    """Merge a `/api/tags` entry with its `/api/show` details."""
    details = summary.details
    capabilities = summary.capabilities or (show.capabilities if show else [])
    return LocalModel(
        name=summary.name,
        digest=summary.digest.removeprefix("sha256:")[:12],
        size_bytes=summary.size,
        size=human_bytes(summary.size),
        modified_at=summary.modified_at,
        family=details.family or None,
        parameter_size=details.parameter_size or None,
        quantization=details.quantization_level or None,
        format=details.format or None,
        context_length=show.context_length if show else None,
        capabilities=list(capabilities),
        loaded=loaded,
    )


class ModelCatalog:
    """Answers "what is installed?" cheaply, and resolves requested names to installed ones."""

    def __init__(self, client: OllamaClient, *, ttl: float = 30.0) -> None:
        self._client = client
        self._ttl = ttl
        self._cached: ModelList | None = None
        self._cached_at = -float("inf")
        self._details: dict[str, ShowResponse] = {}
        self._lock = anyio.Lock()

    def invalidate(self) -> None:
        """Forget the cached list (after a pull, delete or copy)."""
        self._cached = None

    async def list_models(self, *, force_refresh: bool = False) -> ModelList:
        """The installed models, from cache when fresh."""
        if not force_refresh and self._fresh():
            assert self._cached is not None
            return self._cached
        async with self._lock:  # concurrent callers share one refresh
            if not force_refresh and self._fresh():
                assert self._cached is not None
                return self._cached
            self._cached = await self._fetch()
            self._cached_at = time.monotonic()
            return self._cached

    async def find(self, requested: str) -> LocalModel | None:
        """The installed model a name refers to (`llama3.2` matches `llama3.2:latest` or, for a
        bare name, any variant), or None."""
        models = (await self.list_models()).models
        for model in models:
            if canonical_name(model.name) == canonical_name(requested):
                return model
        return next((m for m in models if same_model(requested, m.name)), None)

    def _fresh(self) -> bool:
        return self._cached is not None and time.monotonic() - self._cached_at < self._ttl

    async def _fetch(self) -> ModelList:
        summaries = await self._client.list_models()
        running = {canonical_name(m.name) for m in await self._client.running()}
        await self._load_details([s for s in summaries if s.digest not in self._details])
        models = [
            to_local_model(s, self._details.get(s.digest), loaded=canonical_name(s.name) in running)
            for s in summaries
        ]
        return ModelList(models=models, cached_at=datetime.now(UTC).isoformat())

    async def _load_details(self, summaries: list[ModelSummary]) -> None:
        limiter = anyio.CapacityLimiter(SHOW_CONCURRENCY)

        async def load(summary: ModelSummary) -> None:
            async with limiter:
                # Details are a bonus: the list is still right without them.
                with contextlib.suppress(OllamaError):
                    self._details[summary.digest] = await self._client.show(summary.name)

        async with anyio.create_task_group() as tg:
            for summary in summaries:
                tg.start_soon(load, summary)
