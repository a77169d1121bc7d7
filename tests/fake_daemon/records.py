"""Records and scripting kept by `FakeOllama`: the pullable-name set, each request it received,
the scripted answers tests queue, and the bookkeeping of one loaded model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, MutableSet
from typing import Any

from tests.fake_daemon.catalog import FakeModel


class NameSet(MutableSet[str]):
    """An insertion-ordered set of model names (``next(iter(s))`` is deterministic)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names: dict[str, None] = dict.fromkeys(names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def add(self, value: str) -> None:
        self._names[value] = None

    def discard(self, value: str) -> None:
        self._names.pop(value, None)

    def __repr__(self) -> str:
        return f"NameSet({list(self._names)!r})"


@dataclasses.dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]
    raw_body: bytes = b""
    query: str = ""
    time: float = 0.0


@dataclasses.dataclass
class ScriptedResponse:
    """The next generate/chat answer, queued with `FakeOllama.script_response`."""

    text: str | None = None
    thinking: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    error: str | None = None
    done_reason: str | None = None
    model: str | None = None


@dataclasses.dataclass
class _Loaded:
    model: FakeModel
    expires_ns: int
    context_length: int
    active: int = 0
