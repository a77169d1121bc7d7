"""`python -m mcp_ollama.server.write_manifest`: regenerate `tool_manifest.json` from the tools'
functions, after changing a tool (see `listed_tools.py`)."""

from mcp_ollama.server.listed_tools import MANIFEST, fresh_manifest, manifest_text

if __name__ == "__main__":
    MANIFEST.write_text(manifest_text(fresh_manifest()), encoding="utf-8")
