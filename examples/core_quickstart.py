"""Use mcp-ollama's core as a plain async library, without MCP.

    python examples/core_quickstart.py --model llama3.2:1b --prompt "Why is the sky blue?"

Honours OLLAMA_HOST and the rest of the configuration like the server does.
"""

from __future__ import annotations

import argparse

import anyio

from mcp_ollama import OllamaClient, Settings
from mcp_ollama.service import OllamaService


async def main(model: str, prompt: str) -> None:
    """Ask one question with the `fast` preset and print the answer and its speed."""
    settings = Settings()
    async with OllamaClient.from_settings(settings) as client:
        service = OllamaService(settings, client)
        result = await service.generation.generate(model, prompt, preset="fast")
        print(result.text)
        print(f"{result.usage.output_tokens} tokens at {result.usage.tokens_per_second} tokens/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama3.2:1b")
    parser.add_argument("--prompt", default="Why is the sky blue? One sentence.")
    args = parser.parse_args()
    anyio.run(main, args.model, args.prompt)
