"""Performance benchmarks for mcp-ollama: `python -m benchmarks [--quick] [NAME ...]`.

Not part of the package: they spawn the server as a user would and measure it against baselines
taken in the same run (the daemon reached directly, a bare `MCPServer`). See `__main__.py`.
"""
