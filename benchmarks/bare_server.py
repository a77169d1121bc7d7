"""The floor: a bare `MCPServer` with one no-op tool, served the way mcp-ollama is.

Run as a file (`python benchmarks/bare_server.py [--transport http --port N]`), never through
the `benchmarks` package, so its start-up pays for the SDK and nothing else.
"""

from __future__ import annotations

import argparse

import anyio
from mcp.server import MCPServer


def build() -> MCPServer:
    """One trivial tool; everything else is the SDK's default."""
    mcp = MCPServer("bare")

    @mcp.tool()
    async def noop(text: str = "") -> str:
        """Return the text unchanged."""
        return text

    return mcp


async def _serve_http(mcp: MCPServer, port: int) -> None:
    import uvicorn

    app = mcp.streamable_http_app(streamable_http_path="/mcp", json_response=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    await uvicorn.Server(config).serve()


def main() -> None:
    """Serve over stdio (the default) or streamable HTTP on loopback."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    mcp = build()
    if args.transport == "stdio":
        anyio.run(mcp.run_stdio_async)
    else:
        anyio.run(_serve_http, mcp, args.port)


if __name__ == "__main__":
    main()
