"""The `mcp-ollama` command line: the entry point (`main`) and the human commands (`doctor`,
`bench`, `compare`).

Owns: argument parsing and output for people.
Must not import: `mcp`. Only `main.py`, the entry point, imports `server/` (to run `serve`);
the human commands never do, and `server/` never imports `cli/`.
"""

from mcp_ollama.cli.main import main

__all__ = ["main"]
