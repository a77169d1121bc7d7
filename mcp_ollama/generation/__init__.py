"""One generate, chat or embed call end to end: options and presets, input checks, skills,
batches, and streaming the answer from the daemon.

Owns: how a request is built and run.
Must not import: `mcp`, the front ends, or another capability's internals; it may use
`conversations` (stored sessions, usage) through its package root.
Other capabilities use what this root exports, never its modules.
"""

from mcp_ollama.generation.checks import KeepAlive, check_keep_alive
from mcp_ollama.generation.options import PresetBook, ResolvedOptions, validate_options

__all__ = [
    "KeepAlive",
    "PresetBook",
    "ResolvedOptions",
    "check_keep_alive",
    "validate_options",
]
