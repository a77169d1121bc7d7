"""The MCP server's tools, prompts, errors, progress and concurrency, each module against one
shared server and fake daemon (fixtures in conftest.py)."""
