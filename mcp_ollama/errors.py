"""The errors mcp-ollama raises on purpose.

Every message is written for whoever acts on it, usually an AI agent, and says what to do next.

```
MCPOllamaError                      base of everything we raise on purpose
├── OllamaError                     talking to the Ollama daemon failed
│   ├── OllamaConnectionError       cannot connect (says how to start Ollama)
│   ├── OllamaTimeoutError          connect or read timed out
│   │   └── OllamaStallError        a stream sent nothing for the stall timeout
│   ├── OllamaResponseError         non-2xx, or a mid-stream {"error": ...} line
│   │   └── ModelNotFoundError      404 for a model name; .model
│   ├── MalformedResponseError      the daemon sent something that is not its API
│   ├── GenerationInterruptedError  a stream broke after tokens arrived (never repeated)
│   ├── OllamaStartupError          auto-start failed, or no `ollama` binary
│   └── OllamaCLIError              the `ollama` CLI fallback failed
├── InvalidInputError               an argument is out of range or not allowed
│   ├── InvalidModelNameError       a model name that Ollama would refuse
│   └── InvalidOptionError          an unknown or out-of-range generation option
├── PresetNotFoundError             no preset with that name
├── ReportNotFoundError             no saved report with that id
├── SessionNotFoundError            no conversation session with that id
├── StorageError                    the data directory could not be written
└── SettingsError                   the configuration is invalid
```
"""

from __future__ import annotations

__all__ = [
    "GenerationInterruptedError",
    "InvalidInputError",
    "InvalidModelNameError",
    "InvalidOptionError",
    "MCPOllamaError",
    "MalformedResponseError",
    "ModelNotFoundError",
    "OllamaCLIError",
    "OllamaConnectionError",
    "OllamaError",
    "OllamaResponseError",
    "OllamaStallError",
    "OllamaStartupError",
    "OllamaTimeoutError",
    "PresetNotFoundError",
    "ReportNotFoundError",
    "SessionNotFoundError",
    "SettingsError",
    "StorageError",
]


class MCPOllamaError(Exception):
    """Base of every error mcp-ollama raises on purpose."""


class OllamaError(MCPOllamaError):
    """Talking to the Ollama daemon failed."""


class OllamaConnectionError(OllamaError):
    """The daemon could not be reached."""

    def __init__(self, base_url: str, detail: str = "") -> None:
        self.base_url = base_url
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"cannot connect to Ollama at {base_url}{suffix}: is Ollama running? "
            "Start it with `ollama serve`, or set OLLAMA_HOST to where it listens."
        )


class OllamaTimeoutError(OllamaError):
    """A connect or read took longer than its timeout."""


class OllamaStallError(OllamaTimeoutError):
    """A stream from the daemon sent no bytes for the stall timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"Ollama sent nothing for {seconds:g} s and the request was abandoned; the daemon may "
            "be overloaded or stuck. Retry, or raise the stall timeout (MCP_OLLAMA_STALL_TIMEOUT)."
        )


class OllamaResponseError(OllamaError):
    """The daemon answered with an error status or a mid-stream error line."""

    def __init__(self, error: str, status_code: int) -> None:
        self.error = error
        self.status_code = status_code
        where = f"HTTP {status_code}" if status_code > 0 else "mid-stream"
        message = f"Ollama returned an error ({where}): {error}"
        if status_code >= 500 or status_code == 0:
            # A failure inside the daemon (a crashed runner, no memory): nothing the caller sent.
            message += (
                ". This is a failure inside Ollama: call again; if it persists, check the Ollama "
                "server log (logs/ollama-serve.log in the data directory when mcp-ollama started "
                "it) or try a smaller model."
            )
        super().__init__(message)


class ModelNotFoundError(OllamaResponseError):
    """The named model is not installed in the daemon."""

    def __init__(self, model: str, error: str | None = None) -> None:
        self.model = model
        super().__init__(error or f"model '{model}' not found", 404)
        self.args = (
            f"model '{model}' is not pulled: call pull_model with model='{model}' first, "
            "or list_local_models to see what is installed.",
        )


class MalformedResponseError(OllamaError):
    """The daemon sent something that does not follow the Ollama API."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Ollama sent a malformed response ({detail}); check that OLLAMA_HOST points at an "
            "Ollama daemon, and retry."
        )


class GenerationInterruptedError(OllamaError):
    """A generation stream broke after tokens had arrived; it is never silently repeated."""

    def __init__(self, tokens: int, cause: OllamaError) -> None:
        self.tokens = tokens
        self.cause = cause
        super().__init__(
            f"the generation was interrupted after {tokens} token(s) and the partial answer was "
            f"discarded ({cause}). Call the tool again to retry."
        )


class OllamaStartupError(OllamaError):
    """Auto-starting the daemon failed, or no `ollama` binary was found."""


class OllamaCLIError(OllamaError):
    """The `ollama` command-line fallback failed."""


class InvalidInputError(MCPOllamaError, ValueError):
    """An argument is out of range or not allowed."""


class InvalidModelNameError(InvalidInputError):
    """A model name Ollama would refuse, or one unsafe to pass to a subprocess."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"invalid model name {name!r}: use names like 'llama3.2', 'llama3.2:1b' or "
            "'namespace/model:tag' (letters, digits, '_', '.', '-', one ':' before the tag)."
        )


class InvalidOptionError(InvalidInputError):
    """An unknown or out-of-range generation option."""


class PresetNotFoundError(MCPOllamaError, LookupError):
    """No preset has that name."""


class ReportNotFoundError(MCPOllamaError, LookupError):
    """No saved report has that id."""


class SessionNotFoundError(MCPOllamaError, LookupError):
    """No conversation session has that id."""


class StorageError(MCPOllamaError, OSError):
    """The data directory could not be read or written."""


class SettingsError(MCPOllamaError, ValueError):
    """The configuration is invalid."""
