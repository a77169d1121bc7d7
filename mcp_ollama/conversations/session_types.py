"""What the session store reads and returns: stored messages, session summaries and details,
and the state a turn works from."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from mcp_ollama.ollama.types import ChatMessage
from mcp_ollama.results import Result

__all__ = ["SessionDetail", "SessionInfo", "SessionList", "SessionState", "StoredMessage"]


class StoredMessage(ChatMessage):
    """A message as stored in a session."""

    seq: int = Field(description="Position in the session, from 1")
    created_at: str = ""
    compacted: bool = Field(
        False, description="Summarised or dropped to fit the context window; no longer sent"
    )

    def to_chat(self) -> ChatMessage:
        """The message as sent to the model (without the stored extras and old reasoning)."""
        data = self.model_dump(exclude={"seq", "created_at", "compacted", "thinking"})
        return ChatMessage.model_validate(data)


class SessionInfo(Result):
    """One session, without its messages."""

    session_id: str
    model: str
    title: str = Field("", description="The start of the first user message")
    message_count: int
    active_messages: int = Field(description="Messages still sent to the model")
    token_estimate: int = Field(description="Estimated tokens the next turn starts from")
    has_summary: bool
    created_at: str
    updated_at: str


class SessionList(Result):
    """The stored sessions, most recently used first."""

    sessions: list[SessionInfo]


class SessionDetail(SessionInfo):
    """A whole session: settings, summary and every message."""

    system: str | None = None
    skills: list[str] = Field(default_factory=list)
    summary: str | None = Field(None, description="Summary of the compacted turns")
    messages: list[StoredMessage]


@dataclass
class SessionState:
    """What a turn needs from the store, loaded under the session's lock."""

    session_id: str
    exists: bool = False
    model: str | None = None
    system: str | None = None
    skills: list[str] = field(default_factory=list)
    summary: str | None = None
    token_ratio: float = 1.0
    active: list[StoredMessage] = field(default_factory=list)
