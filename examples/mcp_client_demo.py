"""A Python MCP client that spawns mcp-ollama over stdio, lists the local models and asks one a
question, showing the generation's progress as it streams.

    python examples/mcp_client_demo.py
    python examples/mcp_client_demo.py --model llama3.2:1b --prompt "Why is the sky blue?"
    OLLAMA_HOST=127.0.0.1:11500 python examples/mcp_client_demo.py

Run it with the Python that has mcp-ollama installed (e.g. `.venv/bin/python`). OLLAMA_HOST and
every MCP_OLLAMA_* variable are passed on to the server; nothing else of your environment is.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import anyio
from mcp import Client, StdioServerParameters

DEFAULT_PROMPT = "In one sentence: why is the sky blue?"


def server_parameters() -> StdioServerParameters:
    """How to start the server: this interpreter, `-m mcp_ollama` (stdio is the default)."""
    passed_on = {
        name: value
        for name, value in os.environ.items()
        if name.upper().startswith(("OLLAMA_", "MCP_OLLAMA_"))
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_ollama"], env=passed_on)


async def on_progress(progress: float, total: float | None, message: str | None) -> None:
    """Progress goes to stderr, so stdout holds only the answer."""
    tail = (message or "").replace("\n", " ")[-50:]
    sys.stderr.write(f"\r{int(progress):>5} tokens  {tail:<50}")
    sys.stderr.flush()


async def run(model: str | None, prompt: str) -> int:
    """Connect, pick a model, generate; returns the exit code."""
    async with Client(server_parameters()) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        print(f"connected to {client.server_info.name}: {len(tools)} tools")

        listed = await client.call_tool("list_local_models", {})
        if listed.is_error or listed.structured_content is None:
            print(f"list_local_models failed: {listed.content[0]}", file=sys.stderr)
            return 1
        names = [m["name"] for m in listed.structured_content["models"]]
        print("installed:", ", ".join(names) or "(none)")
        model = model or next(iter(names), None)
        if model is None:
            print("no model installed: call pull_model, or run `ollama pull llama3.2:1b`")
            return 1

        result = await client.call_tool(
            "generate_text", {"model": model, "prompt": prompt}, progress_callback=on_progress
        )
        sys.stderr.write("\n")
        if result.is_error or result.structured_content is None:
            print(f"generate_text failed: {result.content[0]}", file=sys.stderr)
            return 1
        answer = result.structured_content
        usage = answer["usage"]
        print(f"{model}: {answer['text']}")
        print(f"({usage['output_tokens']} tokens, {usage['tokens_per_second'] or 0:.1f} tokens/s)")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model to ask (default: the first installed one)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="what to ask")
    args = parser.parse_args(argv)
    return anyio.run(run, args.model, args.prompt)


if __name__ == "__main__":
    raise SystemExit(main())
