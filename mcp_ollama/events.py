"""What the core changed, for front ends that show it live.

Every operation that changes something a client can read announces it here, after the change is
made: the installed models (pull, delete, copy, create), the saved reports (a benchmark or a
comparison), the saved outputs, a chat session (a turn stored, a summary written, the session
deleted). The core does not know who listens; the MCP server turns changes into resource
notifications. Announcing is synchronous and cheap: a listener only takes note, so a slow client
never slows the operation down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Change", "ChangeFeed", "Topic"]

Topic = Literal["models", "reports", "outputs", "session"]


@dataclass(frozen=True)
class Change:
    """One change: what kind of thing, and which ones (model names, report, output or session
    ids)."""

    topic: Topic
    keys: tuple[str, ...] = ()


Listener = Callable[[Change], None]


class ChangeFeed:
    """Announces changes to whoever subscribed; listeners must not raise or block."""

    def __init__(self) -> None:
        self._listeners: dict[object, Listener] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` for every change from now on; returns the unsubscribe function.

        >>> feed, seen = ChangeFeed(), []
        >>> stop = feed.subscribe(seen.append)
        >>> feed.models_changed('a:1b'); stop(); feed.models_changed('b:1b')
        >>> seen
        [Change(topic='models', keys=('a:1b',))]
        """
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def publish(self, change: Change) -> None:
        """Tell every listener about `change`."""
        for listener in list(self._listeners.values()):
            listener(change)

    def models_changed(self, *names: str) -> None:
        """Installed models were added, replaced or removed (pull, delete, copy, create)."""
        self.publish(Change("models", names))

    def report_saved(self, report_id: str) -> None:
        """A benchmark or comparison report was saved."""
        self.publish(Change("reports", (report_id,)))

    def output_saved(self, output_id: str) -> None:
        """A generation's answer was saved."""
        self.publish(Change("outputs", (output_id,)))

    def session_changed(self, session_id: str) -> None:
        """A chat session got a turn or a summary, or was deleted."""
        self.publish(Change("session", (session_id,)))
