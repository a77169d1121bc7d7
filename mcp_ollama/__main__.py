"""`python -m mcp_ollama`: the same entry point as the `mcp-ollama` console script."""

from mcp_ollama.cli import main

raise SystemExit(main())
