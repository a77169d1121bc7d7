"""How a daemon call survives trouble: auto-start, busy retries, the CLI fallback.

The order, for one call:

1. On first use, start the daemon if it is down (`DaemonManager.ensure_running`).
2. Run the call. A generation that fails with 502/503/504 before any token is retried with
   exponential backoff and jitter (reads are already retried by the client); one that fails after
   tokens arrived (`GenerationInterruptedError`) is never repeated.
3. A connection failure triggers auto-start (when it applies), then one more try.
4. If HTTP still fails in a way the CLI can survive (a connection failure, or a 5xx that persisted
   through the retries) and the fallback is enabled for a local daemon, the CLI answers instead.
5. With `auto_pull` on, a generation naming a model that is not installed pulls it (progress
   continues through the same callback), then runs once more.

A 404 (`ModelNotFoundError`) and every 4xx go straight back to the caller: the CLI would fail the
same way, or worse (`ollama run` pulls a missing model).

All of it runs inside the call's one deadline (`mcp_ollama.deadline`), when it has one: the start,
the retries and the pull name themselves, so an expiry says which of them was still going on.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import structlog

from mcp_ollama.deadline import pending
from mcp_ollama.errors import (
    GenerationInterruptedError,
    ModelNotFoundError,
    OllamaCLIError,
    OllamaConnectionError,
    OllamaError,
    OllamaResponseError,
    OllamaStartupError,
)
from mcp_ollama.ollama.lifecycle import DaemonManager
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.settings import Settings

__all__ = ["BUSY_STATUSES", "ChainedProgress", "Resilience"]

logger = structlog.get_logger()

T = TypeVar("T")
Call = Callable[[], Awaitable[T]]
ProgressCall = Callable[[ProgressCallback | None], Awaitable[T]]
BUSY_STATUSES = frozenset({502, 503, 504})
BUSY_ADVICE = "Ollama is busy with other requests: call again later, or pass a larger `timeout`"
PULL_ADVICE = (
    "Call pull_model to download it first (a cut download resumes where it stopped), then call "
    "again"
)


def cli_can_help(exc: OllamaError) -> bool:
    """Whether the `ollama` CLI might succeed where HTTP failed."""
    if isinstance(exc, GenerationInterruptedError | ModelNotFoundError):
        return False
    if isinstance(exc, OllamaConnectionError):
        return True
    return isinstance(exc, OllamaResponseError) and exc.status_code >= 500


class Resilience:
    """Runs daemon calls with auto-start, busy retries and the CLI fallback."""

    def __init__(self, settings: Settings, daemon: DaemonManager) -> None:
        self.settings = settings
        self.daemon = daemon

    @property
    def fallback_enabled(self) -> bool:
        """Whether the CLI may stand in: enabled, and the daemon is on this machine."""
        return self.settings.cli_fallback and self.daemon.host.is_local

    async def call(
        self,
        operation: Call[T],
        *,
        fallback: Call[T] | None = None,
        retry_busy: bool = False,
    ) -> T:
        """Run `operation` against the daemon; see the module docstring for what happens on
        failure. `retry_busy` is for streamed calls, which the client does not retry itself.

        Raises:
            OllamaError: every path failed; the message says what to do.
        """
        try:
            await self.daemon.ensure_running()
            try:
                return await self._attempt(operation, retry_busy=retry_busy)
            except OllamaConnectionError:
                if not await self.daemon.recover():
                    raise
                logger.info("retrying after auto-start")
                return await self._attempt(operation, retry_busy=retry_busy)
        except OllamaStartupError:
            raise  # the daemon is down for good: the CLI, its client, cannot reach it either
        except OllamaError as exc:
            if fallback is None or not self.fallback_enabled or not cli_can_help(exc):
                raise
            logger.warning("falling back to the ollama CLI", error=str(exc))
            try:
                return await fallback()
            except (OllamaCLIError, OllamaStartupError) as cli_exc:
                # The CLI confirmed the daemon is unreachable, or there is no CLI to try (no
                # binary): either way the HTTP error is what happened and says what to do.
                if isinstance(exc, OllamaConnectionError) or isinstance(
                    cli_exc, OllamaStartupError
                ):
                    logger.warning("the ollama CLI fallback failed too", error=str(cli_exc))
                    raise exc from cli_exc
                # Its `what`, not its advice: the HTTP error's advice stands, and names no
                # setting that a host of several does not use.
                raise OllamaCLIError(
                    f"{exc} The `ollama` CLI fallback failed too: {cli_exc.what}"
                ) from cli_exc

    async def streamed(
        self,
        operation: ProgressCall[T],
        *,
        fallback: ProgressCall[T] | None,
        on_progress: ProgressCallback | None,
        pull: ProgressCall[object] | None = None,
    ) -> T:
        """A streamed call (generate, chat, pull): `call()` with busy retries, plus the auto-pull
        of a missing model when `pull` is given and `auto_pull` is on. Every step (the pull, the
        HTTP attempt, the CLI fallback) reports through one progress that only grows.

        Raises:
            ModelNotFoundError: the model is not installed (and auto-pull is off).
            OllamaError: every path failed.
        """
        chain = ChainedProgress(on_progress)

        async def spare() -> T:
            assert fallback is not None
            chain.next_step()
            return await fallback(chain.callback)

        async def attempt() -> T:
            return await self.call(
                lambda: operation(chain.callback),
                fallback=None if fallback is None else spare,
                retry_busy=True,
            )

        try:
            return await attempt()
        except ModelNotFoundError as exc:
            if pull is None or not self.settings.auto_pull:
                raise
            logger.info("auto-pulling a missing model", model=exc.model)
            model = exc.model
        with pending(f"downloading '{model}' (auto-pull)", PULL_ADVICE):
            await pull(chain.callback)
        chain.next_step()
        return await attempt()

    async def _attempt(self, operation: Call[T], *, retry_busy: bool) -> T:
        attempt = 0
        while True:
            try:
                return await operation()
            except OllamaResponseError as exc:
                busy = exc.status_code in BUSY_STATUSES
                if not retry_busy or not busy or attempt >= self.settings.max_retries:
                    raise
                status = exc.status_code
            delay = self.settings.retry_backoff * (2**attempt)
            with pending(
                f"waiting to retry after Ollama answered HTTP {status} (busy)", BUSY_ADVICE
            ):
                await anyio.sleep(delay * (0.5 + random.random()))
            attempt += 1


class ChainedProgress:
    """Progress over consecutive steps (an auto-pull, then the generation) that only grows."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._base = 0.0
        self._last = 0.0

    @property
    def callback(self) -> ProgressCallback | None:
        """The callback to hand the current step, or None when nobody listens."""
        return self._report if self._callback is not None else None

    def next_step(self) -> None:
        """Start the next step where the previous one ended."""
        self._base = self._last

    async def _report(self, progress: float, total: float | None, message: str | None) -> None:
        assert self._callback is not None
        value = self._base + progress
        if value <= self._last:
            return
        self._last = value
        await self._callback(value, self._base + total if total else None, message)
