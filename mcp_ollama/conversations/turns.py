"""One chat turn in a stored session: load the history, fit it into the context window, send,
store the reply. The pieces live in `sessions` (storage), `context_window` (sizes, compaction)
and the caller's skills (the system message); this module only puts them in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from mcp_ollama.conversations.context_window import (
    ChatFn,
    Compactor,
    ContextWindows,
    estimate_messages,
    estimate_tokens,
    observed_ratio,
    prompt_limit,
)
from mcp_ollama.conversations.sessions import SessionStore, resolve_session_id
from mcp_ollama.errors import StorageError
from mcp_ollama.ollama.types import ChatRequest
from mcp_ollama.results import ChatResult

__all__ = ["Conversations", "SystemMessages"]


class SystemMessages(Protocol):
    """Builds a session's system message from its skills (the generation's `SkillBook`)."""

    async def system_message(self, skills: Sequence[str] | None, system: str | None) -> str | None:
        """The system message for these skills and this explicit system text, if any."""


class Conversations:
    """Chat turns that continue a stored session by id."""

    def __init__(
        self,
        store: SessionStore,
        skills: SystemMessages,
        windows: ContextWindows,
        compactor: Compactor,
        *,
        threshold: float,
    ) -> None:
        self.store = store
        self._skills = skills
        self._windows = windows
        self._compactor = compactor
        self._threshold = threshold

    async def turn(
        self,
        session_id: str,
        request: ChatRequest,
        *,
        system: str | None,
        skills: Sequence[str] | None,
        send: ChatFn,
    ) -> ChatResult:
        """Send `request.messages` (this turn's new messages) after the session's history.

        `system` and `skills`, when given, replace the session's stored ones; otherwise the
        stored ones apply. Only a successful turn is stored, so a failed call can be retried.

        Raises:
            InvalidInputError: a bad session id or skill, or a message too big for the window.
            OllamaError: the daemon failed (nothing of this turn is stored).
        """
        session_id = resolve_session_id(session_id)
        async with self.store.locked(session_id) as state:
            system = system if system is not None else state.system
            skill_names = list(skills) if skills is not None else state.skills
            system_text = await self._skills.system_message(skill_names, system)
            options = request.options or {}
            window = await self._windows.window(request.model, options)
            limit = prompt_limit(window, self._threshold, options.get("num_predict"))
            if request.tools:
                limit -= int(estimate_tokens(json.dumps(request.tools)) * state.token_ratio)
            fitted = await self._compactor.fit(
                model=request.model,
                options=options,
                system=system_text,
                summary=state.summary,
                history=[(m.seq, m.to_chat()) for m in state.active],
                new=request.messages,
                limit=limit,
                ratio=state.token_ratio,
            )
            if fitted.compacted_through is not None or fitted.summary != state.summary:
                await self.store.compact(state, fitted.compacted_through or 0, fitted.summary)
            result = await send(request.model_copy(update={"messages": fitted.messages}))
            ratio = observed_ratio(
                state.token_ratio, estimate_messages(fitted.messages), result.usage.prompt_tokens
            )
            try:
                await self.store.append_turn(
                    state,
                    [*request.messages, result.message],
                    model=request.model,
                    system=system,
                    skills=skill_names,
                    token_estimate=estimate_messages([*fitted.messages, result.message], ratio),
                    token_ratio=ratio,
                )
            except StorageError as exc:
                # The answer is not thrown away: the agent gets it, told it is not stored.
                raise StorageError(
                    f"{exc} The model did answer, but this turn is not stored in session "
                    f"{session_id!r}; the answer was:\n\n{result.message.content}"
                ) from exc
        return result.model_copy(update={"session_id": session_id})
