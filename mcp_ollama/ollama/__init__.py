"""Talking to one Ollama daemon: the HTTP client, the wire types, model names, the daemon's
lifecycle (probe, auto-start, stop), the `ollama` CLI fallback and the resilience around a call.

Owns: everything that knows Ollama's API, CLI and naming rules.
Must not import: `mcp`, the front ends (`server/`, `cli/`) or any other capability folder.
Only `client.py` imports the HTTP library.
"""
