"""Progress reporting out of the core, free of MCP types: a callback, throttled and monotonic."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

__all__ = ["ProgressCallback", "ProgressThrottle"]

ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None]]
"""`async (progress, total, message) -> None`; progress only ever grows."""


class ProgressThrottle:
    """Forward progress at most every `interval` seconds, never going backwards.

    The first update goes out at once, so a client sees the first token without waiting for the
    interval; later ones are dropped until the interval has passed, except `force=True`.
    """

    def __init__(self, callback: ProgressCallback | None, *, interval: float = 0.1) -> None:
        self._callback = callback
        self._interval = interval
        self._last_sent = -float("inf")
        self._last_progress = -float("inf")

    @property
    def enabled(self) -> bool:
        """Whether anyone listens."""
        return self._callback is not None

    async def update(
        self,
        progress: float,
        total: float | None = None,
        message: str | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Send if the interval has passed (or `force`) and progress grew."""
        if self._callback is None or progress <= self._last_progress:
            return
        now = time.monotonic()
        if not force and now - self._last_sent < self._interval:
            return
        self._last_sent = now
        self._last_progress = progress
        await self._callback(progress, total, message)
