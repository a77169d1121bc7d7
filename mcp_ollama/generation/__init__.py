"""One generate, chat or embed call end to end: options and presets, input checks, skills,
batches, and streaming the answer from the daemon.

Owns: how a request is built and run.
Must not import: `mcp`, the front ends, or another capability's internals; it may use
`fleet` (auto-pull) and `conversations` (stored sessions, usage) through their package roots.
"""
