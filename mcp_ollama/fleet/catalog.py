"""The model catalogue: installed models enriched with context window, capabilities and load state.

One catalogue per daemon. The list is cached in memory for `ttl` seconds and persisted to
`cache/models-<hash of the daemon's URL>.json` in the data directory (atomic writes), so a
restarted server answers at once, and a list fetched from one daemon is never served for another
(the file also names its URL, which must match). What happens to the persisted
list at start depends on its age: fresh (< 6 h) it is served as is; stale (6-24 h) it is served
and refreshed in the background; expired (> 24 h) it is refreshed before answering. A corrupt file
is discarded and rebuilt. Per-model details from `/api/show` are cached by digest (a digest names
immutable content, so they never go stale).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio
import structlog
from anyio.abc import TaskGroup

from mcp_ollama.errors import OllamaError, StorageError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import canonical_name, same_model
from mcp_ollama.ollama.types import ModelSummary, ShowResponse
from mcp_ollama.results import LocalModel, ModelList, Result, to_the_second
from mcp_ollama.settings import Settings
from mcp_ollama.storage import atomic_write_json, read_bytes_inside

__all__ = ["FRESH_AGE", "MAX_AGE", "ModelCatalog", "cache_path", "to_local_model"]

logger = structlog.get_logger()

SHOW_CONCURRENCY = 4
FRESH_AGE = 6 * 3600.0
MAX_AGE = 24 * 3600.0
CACHE_DIR = Path("cache")

Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests can age the cache without sleeping."""


def cache_path(data_dir: Path, base_url: str) -> Path:
    """Where the model list of the daemon at `base_url` is persisted."""
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:16]
    return data_dir / CACHE_DIR / f"models-{digest}.json"


def to_local_model(summary: ModelSummary, show: ShowResponse | None, *, loaded: bool) -> LocalModel:
    """Merge a `/api/tags` entry with its `/api/show` details."""
    details = summary.details
    capabilities = summary.capabilities or (show.capabilities if show else [])
    return LocalModel(
        name=summary.name,
        digest=summary.digest.removeprefix("sha256:")[:12],
        size_bytes=summary.size,
        modified_at=to_the_second(summary.modified_at),
        family=details.family or None,
        parameter_size=details.parameter_size or None,
        quantization=details.quantization_level or None,
        context_length=show.context_length if show else None,
        capabilities=list(capabilities),
        loaded=loaded,
    )


class _CacheFile(Result):
    """The persisted list: what `cache/models.json` holds."""

    version: Literal[1] = 1
    base_url: str | None = None  # the daemon it came from
    fetched_at: float
    models: list[LocalModel]
    # False once a pull, delete or copy changed what is installed: refreshed before it is served.
    current: bool = True


class ModelCatalog:
    """Answers "what is installed?" cheaply, and resolves requested names to installed ones."""

    def __init__(
        self,
        client: OllamaClient,
        *,
        ttl: float = 30.0,
        cache_file: Path | None = None,
        clock: Clock = time.time,
        fresh_age: float = FRESH_AGE,
        max_age: float = MAX_AGE,
    ) -> None:
        self._client = client
        self._base_url = client.base_url
        self._ttl = ttl
        self._cache_file = cache_file
        self._clock = clock
        self._fresh_age = fresh_age
        self._max_age = max_age
        self._cached: ModelList | None = None
        self._cached_at = -float("inf")
        self._last: _CacheFile | None = None  # the newest list known, for answering when down
        self._disk_checked = cache_file is None
        self._details: dict[str, ShowResponse] = {}
        self._lock = anyio.Lock()
        self._task_group: TaskGroup | None = None
        self._refreshing = False

    @classmethod
    def from_settings(
        cls, client: OllamaClient, settings: Settings, *, clock: Clock = time.time
    ) -> ModelCatalog:
        """The catalogue of `client`'s daemon, persisted in the data directory, with the
        configured TTL."""
        path = cache_path(settings.data_dir, client.base_url)
        return cls(client, ttl=settings.cache_ttl, cache_file=path, clock=clock)

    def attach(self, task_group: TaskGroup) -> None:
        """Run background refreshes in `task_group` (the server's lifespan).

        Without one, a stale persisted list is served once and refreshed on the next call.
        """
        self._task_group = task_group

    def invalidate(self) -> None:
        """Forget the cached list (after a pull, delete or copy), in memory and on disk."""
        self._cached = None
        if self._last is None:  # a restarted server has not read the persisted list yet
            self._last = self._read_file()
        if self._last is not None and self._last.current:
            self._last = self._last.model_copy(update={"current": False})
            self._persist(self._last)

    def known(self) -> ModelList | None:
        """The list in memory, without asking the daemon, or None when there is none to use.
        Past the TTL it is still returned while a refresh runs in the background (when a task
        group is attached), so routing a call never waits for a listing it already has."""
        if self._cached is None or self._fresh():
            return self._cached
        if self._task_group is None:
            return None
        if not self._refreshing:
            self._refreshing = True
            self._task_group.start_soon(self._background_refresh)
        return self._cached

    def expire(self) -> None:
        """Treat the list in memory as past its TTL (the daemon came back, or said a model it
        listed is gone): the next look refreshes it."""
        self._cached_at = -float("inf")

    async def list_models(self, *, force_refresh: bool = False) -> ModelList:
        """The installed models, from cache when fresh.

        Raises:
            OllamaError: the daemon could not be asked and no cached list may be served.
        """
        if not force_refresh and self._fresh():
            assert self._cached is not None
            return self._cached
        async with self._lock:  # concurrent callers share one refresh
            if not force_refresh:
                if self._fresh():
                    assert self._cached is not None
                    return self._cached
                if not self._disk_checked:
                    self._disk_checked = True
                    persisted = self._serve_persisted()
                    if persisted is not None:
                        return persisted
            return await self._refresh()

    def stale(self, reason: str) -> ModelList | None:
        """The newest list known (from memory or disk, of any age), marked stale, or None."""
        last = self._last or self._read_file()
        if last is None:
            return None
        fetched = _iso(last.fetched_at)
        return ModelList(
            models=last.models,
            stale=True,
            stale_reason=f"{reason}; this list was fetched at {fetched} and may be out of date",
            cached_at=fetched,
        )

    async def find(self, requested: str) -> LocalModel | None:
        """The installed model a name refers to by Ollama's rule (`llama3.2` is
        `llama3.2:latest`, never `llama3.2:1b`), or None."""
        models = (await self.list_models()).models
        return next((m for m in models if same_model(requested, m.name)), None)

    def _fresh(self) -> bool:
        return self._cached is not None and 0 <= self._clock() - self._cached_at < self._ttl

    # -- the persisted list -----------------------------------------------------------------

    def _serve_persisted(self) -> ModelList | None:
        """At start: the persisted list if it may be served now, starting a refresh if stale."""
        persisted = self._read_file()
        if persisted is None:
            return None
        self._last = persisted
        now = self._clock()
        age = now - persisted.fetched_at
        if not persisted.current or not 0 <= age < self._max_age:
            return None  # outdated, expired or from the future: refresh before answering
        fetched = _iso(persisted.fetched_at)
        if age < self._fresh_age:
            answer = ModelList(models=persisted.models, cached_at=fetched)
            self._remember(answer, now)
            return answer
        hours = age / 3600
        answer = ModelList(
            models=persisted.models,
            stale=True,
            stale_reason=f"served from the on-disk cache ({hours:.1f} h old) while it is "
            "refreshed; call again with force_refresh=true for the current list",
            cached_at=fetched,
        )
        if self._task_group is not None and not self._refreshing:
            self._refreshing = True
            self._remember(answer, now)
            self._task_group.start_soon(self._background_refresh)
        return answer

    def _read_file(self) -> _CacheFile | None:
        if self._cache_file is None:
            return None
        try:
            text = read_bytes_inside(self._data_dir, self._cache_file).decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, StorageError, UnicodeDecodeError) as exc:
            logger.warning("model cache unreadable", path=str(self._cache_file), error=str(exc))
            return None
        try:
            data = _CacheFile.model_validate_json(text)
        except ValueError as exc:  # pydantic's ValidationError included
            # Half-written by hand, or another format: discarded, and rebuilt on the next fetch.
            logger.warning(
                "discarding corrupt model cache", path=str(self._cache_file), error=str(exc)[:200]
            )
            with contextlib.suppress(OSError):
                self._cache_file.unlink()
            return None
        return data if data.base_url == self._base_url else None

    @property
    def _data_dir(self) -> Path:
        """The data directory (the cache file is in its `cache/` folder): nothing inside it is
        followed if it is a symbolic link."""
        assert self._cache_file is not None
        return self._cache_file.parent.parent

    def _persist(self, data: _CacheFile) -> None:
        if self._cache_file is None:
            return
        try:
            data_json = json.loads(data.model_dump_json())
            atomic_write_json(self._cache_file, data_json, root=self._data_dir)
        except StorageError as exc:
            # The listing itself succeeded; a read-only data dir only costs the next start.
            logger.warning("model cache not saved", error=str(exc))

    async def _background_refresh(self) -> None:
        try:
            async with self._lock:
                await self._refresh()
        except OllamaError as exc:
            logger.warning("background model list refresh failed", error=str(exc))
        finally:
            self._refreshing = False

    # -- fetching ---------------------------------------------------------------------------

    async def _refresh(self) -> ModelList:
        models = await self._fetch()
        now = self._clock()
        data = _CacheFile(base_url=self._base_url, fetched_at=now, models=models)
        self._last = data
        self._persist(data)
        answer = ModelList(models=models, cached_at=_iso(now))
        self._remember(answer, now)
        return answer

    def _remember(self, answer: ModelList, at: float) -> None:
        self._cached = answer
        self._cached_at = at

    async def _fetch(self) -> list[LocalModel]:
        summaries = await self._client.list_models()
        running = {canonical_name(m.name) for m in await self._client.running()}
        await self._load_details([s for s in summaries if s.digest not in self._details])
        return [
            to_local_model(s, self._details.get(s.digest), loaded=canonical_name(s.name) in running)
            for s in summaries
        ]

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


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
