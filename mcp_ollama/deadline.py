"""One deadline for a whole call, from the moment it starts.

A call that takes a `timeout` (a tool's argument, or a preset's) opens `call_deadline()` where it
starts, once. Everything inside runs under it: auto-start, routing and failover, busy retries, an
auto-pull, waits for a session another call is using or for another benchmark, and the
generation itself, so each wait gets only the time that is left and nothing starts a clock of its
own. The deadline is a cancel scope; the context variable only lets a step that may wait long say
so (`pending()`): when the time runs out inside it, the error names that step and its advice
instead of the call's generic one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import anyio

from mcp_ollama.errors import CallTimeoutError

__all__ = ["GENERATION_ADVICE", "call_deadline", "pending"]

GENERATION_ADVICE = (
    "pass a larger `timeout`, a smaller num_predict, or a faster preset such as 'fast'"
)


class _Deadline:
    """One call's deadline: when it ends, and what the call was still doing then."""

    def __init__(self, outer: _Deadline | None) -> None:
        self.outer = outer
        self.ends = float("inf")
        self.step: tuple[str, str] | None = None

    def note(self, step: str, advice: str) -> None:
        """The time ran out inside `step`: keep the innermost step of each deadline that ended
        (a call's own, or an enclosing one)."""
        now = anyio.current_time()
        deadline: _Deadline | None = self
        while deadline is not None:
            if deadline.step is None and now >= deadline.ends:
                deadline.step = (step, advice)
            deadline = deadline.outer


_CURRENT: ContextVar[_Deadline | None] = ContextVar("mcp_ollama_deadline", default=None)


@contextmanager
def call_deadline(
    timeout: float | None, what: str = "the call", advice: str = GENERATION_ADVICE
) -> Iterator[None]:
    """Bound everything in the block by `timeout` seconds from now (None: no bound), turning
    expiry into a `CallTimeoutError` that says what was still pending and what to do.

    Raises:
        CallTimeoutError: the time ran out.
    """
    if timeout is None:
        yield
        return
    deadline = _Deadline(_CURRENT.get())
    token = _CURRENT.set(deadline)
    try:
        with anyio.fail_after(timeout) as scope:
            deadline.ends = scope.deadline
            yield
    except TimeoutError as exc:
        head = f"{what} did not finish within its timeout of {timeout:g} s"
        if deadline.step is None:
            raise CallTimeoutError(f"{head}; {advice}.") from exc
        step, step_advice = deadline.step
        raise CallTimeoutError(f"{head}: it was still {step}. {step_advice}.") from exc
    finally:
        _CURRENT.reset(token)


@contextmanager
def pending(step: str, advice: str) -> Iterator[None]:
    """Mark the block as a step that may wait long (`step` reads after "it was still ..."):
    should the call's deadline end inside it, the error names it and gives `advice` (a sentence
    starting with a capital) instead of the call's generic advice."""
    deadline = _CURRENT.get()
    if deadline is None:
        yield
        return
    try:
        yield
    except anyio.get_cancelled_exc_class():
        deadline.note(step, advice)
        raise
