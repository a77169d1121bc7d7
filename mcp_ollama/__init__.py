"""mcp-ollama: an MCP server that puts a local Ollama daemon behind tools AI agents can call.

`import mcp_ollama` never imports the MCP SDK: the core is usable as a plain library.
"""

from mcp_ollama.errors import (
    MCPOllamaError,
    ModelNotFoundError,
    OllamaConnectionError,
    OllamaError,
    OllamaResponseError,
    OllamaTimeoutError,
)
from mcp_ollama.generation.options import GenerationOptions
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "GenerationOptions",
    "MCPOllamaError",
    "ModelNotFoundError",
    "OllamaClient",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaResponseError",
    "OllamaTimeoutError",
    "Settings",
    "__version__",
]
