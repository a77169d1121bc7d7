"""Which tools the server lists: every tool's group, and the `tools` setting resolved to names.

Every tool the server can register is in `TOOLS` (name -> group), the one registry the server,
`check_health` and `doctor` read. The setting takes tool and group names, comma-separated; a
name with a leading `-` takes tools away again (`core,-compare_models`). A tool that is not
enabled is not registered at all: an agent pays for every tool it is shown. A `DESTRUCTIVE` tool
is listed only to a client that can ask its user to confirm, or when destructive operations are
enabled: to any other client every call would be refused.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CORE",
    "DEFAULT",
    "DESTRUCTIVE",
    "GROUPS",
    "TOOLS",
    "describe_choices",
    "enabled_tools",
    "not_enabled",
    "unknown_names",
]

# Tool -> group, in the order tools are listed. A new tool gets a line here (see AGENTS.md).
TOOLS: dict[str, str] = {
    "generate_text": "generation",
    "chat": "generation",
    "embed": "generation",
    "generate_batch": "generation",
    "list_skills": "generation",
    "list_local_models": "models",
    "show_model": "models",
    "list_running_models": "models",
    "pull_model": "models",
    "create_model": "models",
    "copy_model": "models",
    "delete_model": "models",
    "unload_model": "models",
    "benchmark_model": "bench",
    "compare_models": "bench",
    "list_reports": "bench",
    "get_report": "bench",
    "list_sessions": "sessions",
    "get_session": "sessions",
    "delete_session": "sessions",
    "get_usage": "sessions",
    "check_health": "config",
    "list_presets": "config",
    "validate_config": "config",
    "export_config": "config",
    "import_config": "config",
}
# What an agent needs to delegate work to a local model; the rest is one setting away.
CORE = (
    "generate_text",
    "chat",
    "embed",
    "list_local_models",
    "show_model",
    "pull_model",
    "benchmark_model",
    "compare_models",
    "check_health",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "core": CORE,
    **{
        group: tuple(name for name, home in TOOLS.items() if home == group)
        for group in dict.fromkeys(TOOLS.values())
    },
    "all": tuple(TOOLS),
}
DEFAULT = ("core",)
DESTRUCTIVE = frozenset({"delete_model"})


def _members(name: str) -> tuple[str, ...]:
    return GROUPS.get(name) or ((name,) if name in TOOLS else ())


def unknown_names(names: Iterable[str]) -> list[str]:
    """The names (each possibly `-`-prefixed) that are neither a tool nor a group."""
    return [name for name in names if not _members(name.removeprefix("-"))]


def enabled_tools(names: Iterable[str]) -> tuple[str, ...]:
    """The tools a `tools` setting enables, in listing order.

    >>> enabled_tools(["generate_text", "models", "-pull_model", "-delete_model"])
    ('generate_text', 'list_local_models', 'show_model', 'list_running_models', 'create_model', \
'copy_model', 'unload_model')
    """
    chosen: set[str] = set()
    for name in names:
        if name.startswith("-"):
            chosen -= set(_members(name[1:]))
        else:
            chosen |= set(_members(name))
    return tuple(name for name in TOOLS if name in chosen)


def not_enabled(name: str, names: Iterable[str]) -> str:
    """Why a tool of this server is not served, and the setting that serves it."""
    return (
        f"{name} is not enabled on this server (tools = {','.join(names)}): add {name} or its "
        f"group {TOOLS[name]} to MCP_OLLAMA_TOOLS"
    )


def describe_choices() -> str:
    """Every valid name, for an error message."""
    return f"groups: {', '.join(GROUPS)}; tools: {', '.join(TOOLS)}"
