"""Argument completions: the one `completion/complete` handler a server may have, shared by
every module through a registry of completers keyed by (reference kind, argument name).

Any module that registers a prompt or resource template adds its completers with
`completion_registry(mcp).add("prompt", "preset", complete_presets)`; the first call installs
the handler. Completers get the running `AppState`, the partial value and the arguments already
filled in, and return candidate values; the registry filters by prefix and caps the list.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from mcp.server import MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from mcp_ollama.errors import MCPOllamaError
from mcp_ollama.server._common import AppState

__all__ = [
    "MAX_COMPLETIONS",
    "Completer",
    "CompletionRegistry",
    "RefKind",
    "complete_model_names",
    "completion_registry",
    "rank_candidates",
]

logger = structlog.get_logger()

RefKind = Literal["prompt", "resource"]
Completer = Callable[[AppState, str, Mapping[str, str]], Awaitable[Iterable[str]]]
"""`async (state, partial_value, other_arguments) -> candidates`."""

MAX_COMPLETIONS = 100  # the spec's cap on values in one completion result


def rank_candidates(candidates: Iterable[str], partial: str) -> list[str]:
    """Candidates that start with `partial` first, then those containing it; case-insensitive.

    >>> rank_candidates(['qwen3:8b', 'llama3.2:1b', 'tinyllama:latest'], 'lla')
    ['llama3.2:1b', 'tinyllama:latest']
    >>> rank_candidates(['b', 'a', 'b'], '')
    ['a', 'b']
    """
    needle = partial.lower()
    unique = sorted(set(candidates))
    prefixed = [c for c in unique if c.lower().startswith(needle)]
    inside = [c for c in unique if needle in c.lower() and c not in prefixed]
    return prefixed + inside


class CompletionRegistry:
    """Completers for one server, and the state they run against while the server is up."""

    def __init__(self) -> None:
        self._completers: dict[tuple[RefKind, str | None, str], Completer] = {}
        self._states: list[AppState] = []

    def add(
        self, kind: RefKind, argument: str, completer: Completer, *, ref: str | None = None
    ) -> None:
        """Complete `argument` of every prompt (or resource template) of `kind`, or only of the
        one named `ref` (a prompt name or a URI template); a specific completer wins."""
        self._completers[(kind, ref, argument)] = completer

    @contextmanager
    def bound(self, state: AppState) -> Iterator[None]:
        """Make `state` the one completers see while the server's lifespan runs."""
        self._states.append(state)
        try:
            yield
        finally:
            self._states.remove(state)

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        """The completion for one argument, or None when nobody completes it."""
        kind: RefKind = "prompt" if isinstance(ref, PromptReference) else "resource"
        name = ref.name if isinstance(ref, PromptReference) else ref.uri
        completer = self._completers.get((kind, name, argument.name)) or self._completers.get(
            (kind, None, argument.name)
        )
        if completer is None or not self._states:
            return None
        given = dict(context.arguments or {}) if context is not None else {}
        try:
            candidates = await completer(self._states[-1], argument.value, given)
        except MCPOllamaError as exc:
            # A completion is a typing aid: when the daemon is down it offers nothing, and the
            # tool call that follows reports the actionable error.
            logger.info("completion unavailable", argument=argument.name, reason=str(exc))
            return Completion(values=[])
        ranked = rank_candidates(candidates, argument.value)
        return Completion(
            values=ranked[:MAX_COMPLETIONS],
            total=len(ranked),
            has_more=len(ranked) > MAX_COMPLETIONS,
        )


_REGISTRIES: weakref.WeakKeyDictionary[MCPServer[Any], CompletionRegistry] = (
    weakref.WeakKeyDictionary()
)


def completion_registry(mcp: MCPServer[Any]) -> CompletionRegistry:
    """The server's registry, installing its single completion handler on first use."""
    registry = _REGISTRIES.get(mcp)
    if registry is None:
        registry = _REGISTRIES[mcp] = CompletionRegistry()
        # The SDK leaves this decorator unannotated; the handler's signature is the documented one.
        mcp.completion()(registry.complete)  # type: ignore[no-untyped-call]
    return registry


async def complete_model_names(
    state: AppState, partial: str, _arguments: Mapping[str, str]
) -> list[str]:
    """Installed model names (from the catalogue's cache when it is fresh)."""
    return [m.name for m in (await state.service.models.list_models()).models]
