"""The server's instructions: the few sentences every agent receives when it connects, so each is
paid for by every agent. They name only tools that are enabled, and hosts only when there are
several to choose from."""

from __future__ import annotations

from mcp_ollama.settings import Settings

__all__ = ["MAX_INSTRUCTIONS", "instructions"]

MAX_INSTRUCTIONS = 600
"""Characters at most, with every tool enabled and several hosts (a test holds it)."""

DELEGATING = frozenset({"generate_text", "chat", "generate_batch"})


def instructions(settings: Settings) -> str:
    """What an agent reads about this server when it connects."""
    enabled = set(settings.enabled_tools)
    lines = ["Local language models served by Ollama."]
    if "list_local_models" in enabled:
        more = "; pull_model downloads more" if "pull_model" in enabled else ""
        lines.append(f"list_local_models shows the installed models{more}.")
    if DELEGATING & enabled:
        lines.append(
            "To delegate work, pass file paths or globs in `files`: the server reads them, so "
            "their text never enters your context. `preset` (fast, creative, balanced, precise, "
            "long_form) and `options` tune a call."
        )
    if len(settings.host_configs()) > 1:
        lines.append(
            "Several Ollama hosts act as one: a call goes to a host that has the model, and "
            "`host` pins one."
        )
    lines.append("Errors say what to do next.")
    return " ".join(lines)
