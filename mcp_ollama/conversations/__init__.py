"""Stored conversations and usage: the SQLite database, sessions, fitting history into the
context window, and per-model usage accounting.

Owns: everything kept in `sessions.db`.
Must not import: `mcp`, the front ends, or another capability folder (a chat turn is sent
through a function the caller passes in, and skills through `SystemMessages`).
Other capabilities use what this root exports, never its modules.
"""

from mcp_ollama.conversations.context_window import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    ContextWindows,
    estimate_messages,
    estimate_tokens,
    prompt_limit,
)
from mcp_ollama.conversations.turns import Conversations, SystemMessages
from mcp_ollama.conversations.usage import UsageLedger

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "ContextWindows",
    "Conversations",
    "SystemMessages",
    "UsageLedger",
    "estimate_messages",
    "estimate_tokens",
    "prompt_limit",
]
