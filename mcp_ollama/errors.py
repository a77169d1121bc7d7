"""The errors mcp-ollama raises on purpose.

Every message is written for whoever acts on it, usually an AI agent: what happened, then the one
next step that fits. `for_person()` words the same error for a person at a terminal (the human
CLI), and `OllamaError.what` is what happened alone, for an error that wraps another.

```
MCPOllamaError                      base of everything we raise on purpose
├── OllamaError                     talking to the Ollama daemon failed
│   ├── OllamaConnectionError       cannot connect (says how to start Ollama)
│   │   ├── OllamaHostNotFoundError the host name in OLLAMA_HOST does not resolve
│   │   ├── OllamaDisconnectedError the daemon closed the connection mid-response
│   │   └── HostsUnreachableError   several hosts: none of those tried answered (names each)
│   ├── OllamaTimeoutError          connect or read timed out
│   │   ├── OllamaStallError        a stream sent nothing for the stall timeout
│   │   └── CallTimeoutError        the call's own `timeout` ran out (not the daemon's fault)
│   ├── OllamaResponseError         non-2xx, or a mid-stream {"error": ...} line
│   │   ├── ModelNotFoundError      404 for a model name; .model, .installed
│   │   │   └── ModelNotOnHostError no host asked has it (says what each has)
│   │   └── NotOllamaError          something that is not Ollama answered at OLLAMA_HOST
│   ├── MalformedResponseError      the daemon sent something that is not its API
│   ├── GenerationInterruptedError  a stream broke after tokens arrived (never repeated)
│   ├── PullInterruptedError        a download broke after it started (pull_model resumes it)
│   ├── OllamaStartupError          auto-start failed, or no `ollama` binary
│   └── OllamaCLIError              the `ollama` CLI fallback failed
├── InvalidInputError               an argument is out of range or not allowed
│   ├── InvalidModelNameError       a model name that Ollama would refuse
│   └── InvalidOptionError          an unknown or out-of-range generation option
├── DeclinedError                   the user said no to a confirmation: nothing changed
├── PresetNotFoundError             no preset with that name
├── ReportNotFoundError             no saved report with that id
├── SessionNotFoundError            no conversation session with that id
├── StorageError                    the data directory could not be written
└── SettingsError                   the configuration is invalid
```
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "HOSTS_SETTING",
    "CallTimeoutError",
    "DeclinedError",
    "GenerationInterruptedError",
    "HostsUnreachableError",
    "InvalidInputError",
    "InvalidModelNameError",
    "InvalidOptionError",
    "MCPOllamaError",
    "MalformedResponseError",
    "ModelNotFoundError",
    "ModelNotOnHostError",
    "NotOllamaError",
    "OllamaCLIError",
    "OllamaConnectionError",
    "OllamaDisconnectedError",
    "OllamaError",
    "OllamaHostNotFoundError",
    "OllamaResponseError",
    "OllamaStallError",
    "OllamaStartupError",
    "OllamaTimeoutError",
    "PresetNotFoundError",
    "PullInterruptedError",
    "ReportNotFoundError",
    "SessionNotFoundError",
    "SettingsError",
    "StorageError",
]


HOSTS_SETTING = "MCP_OLLAMA_HOSTS (or the [hosts.NAME] tables of the config file)"
"""Where the hosts of a fleet are configured, as an error names it."""


class MCPOllamaError(Exception):
    """Base of every error mcp-ollama raises on purpose."""

    #: The message worded for a person at a terminal, where it differs from the agent's.
    person: str | None = None

    def for_person(self) -> str:
        """The message for a person running a command (`ollama pull`, not `pull_model`)."""
        return self.person or str(self)


class OllamaError(MCPOllamaError):
    """Talking to the Ollama daemon failed."""

    _what: str | None = None

    @property
    def what(self) -> str:
        """What happened, without the advice (for an error that wraps this one)."""
        return self._what or str(self)


class OllamaConnectionError(OllamaError):
    """The daemon could not be reached."""

    def __init__(self, base_url: str, detail: str = "") -> None:
        self.base_url = base_url
        suffix = f" ({detail})" if detail else ""
        self._what = f"cannot connect to Ollama at {base_url}{suffix}"
        super().__init__(
            f"{self._what}: is Ollama running? Start it with `ollama serve`, or set OLLAMA_HOST "
            "to where it listens."
        )


class OllamaHostNotFoundError(OllamaConnectionError):
    """The host name of the daemon's address does not resolve (a typo, or no such machine)."""

    def __init__(self, base_url: str, host: str) -> None:
        super().__init__(base_url)
        self.host = host
        # `what` (wrapped with several hosts) names the address alone, not OLLAMA_HOST.
        self._what = f"the host name '{host}' of {base_url} does not resolve"
        advice = "check its spelling, or set OLLAMA_HOST to where Ollama listens."
        self.args = (
            f"the host name '{host}' of OLLAMA_HOST ({base_url}) does not resolve: {advice}",
        )


class OllamaDisconnectedError(OllamaConnectionError):
    """The daemon closed the connection before its response was complete."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self._what = f"Ollama at {base_url} closed the connection before the response was complete"
        advice = "if it happens again, check the Ollama server log (the daemon may be crashing)."
        self.args = (f"{self._what}: call again; {advice}",)
        self.person = f"{self._what}: run the command again; {advice}"


class HostsUnreachableError(OllamaConnectionError):
    """With several hosts: none of the hosts a call tried answered. `failures` holds each
    host's name and what happened there; the message names them all and what to do."""

    def __init__(self, failures: Sequence[tuple[str, str]], *, model: str | None = None) -> None:
        self.failures = list(failures)
        names = [name for name, _ in self.failures]
        super().__init__(", ".join(names))
        detail = "; ".join(f"{name}: {what}" for name, what in self.failures)
        if len(self.failures) == 1:
            self._what = f"host '{names[0]}' did not answer ({self.failures[0][1]})"
            fix = f"start Ollama there, or correct its url in {HOSTS_SETTING}"
        else:
            having = "" if model is None else f" that has '{model}'"
            self._what = f"no host{having} answered ({detail})"
            fix = f"start Ollama on them, or correct their urls in {HOSTS_SETTING}"
        self.args = (f"{self._what}: {fix}, then call again.",)
        self.person = f"{self._what}: {fix}, then run it again."

    @property
    def detail(self) -> str:
        """What happened at each host, without the advice or the host names."""
        return "; ".join(what for _, what in self.failures)

    @classmethod
    def combine(cls, errors: Sequence[OllamaError], *, model: str | None = None) -> OllamaError:
        """One error for several hosts that each failed: every host named when each was
        unreachable, else the first error that is not about reaching a host."""
        unreachable = [error for error in errors if isinstance(error, HostsUnreachableError)]
        if errors and len(unreachable) == len(errors):
            return cls(
                [failure for error in unreachable for failure in error.failures], model=model
            )
        return next(error for error in errors if not isinstance(error, HostsUnreachableError))


class OllamaTimeoutError(OllamaError):
    """A connect or read took longer than its timeout."""


class OllamaStallError(OllamaTimeoutError):
    """A stream from the daemon sent no bytes for the stall timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._what = f"Ollama sent nothing for {seconds:g} s and the request was abandoned"
        super().__init__(
            f"{self._what}; the daemon may be overloaded or stuck. Retry, or raise the stall "
            "timeout (MCP_OLLAMA_STALL_TIMEOUT)."
        )


class CallTimeoutError(OllamaTimeoutError):
    """A call ran past its own time limit (the `timeout` argument or a preset's); no daemon
    failed, so the call is not moved to another host."""


class OllamaResponseError(OllamaError):
    """The daemon answered with an error status or a mid-stream error line."""

    def __init__(self, error: str, status_code: int) -> None:
        self.error = error
        self.status_code = status_code
        where = f"HTTP {status_code}" if status_code > 0 else "mid-stream"
        self._what = f"Ollama returned an error ({where}): {error}"
        message = self._what
        if status_code >= 500 or status_code == 0:
            # A failure inside the daemon (a crashed runner, no memory): nothing the caller sent.
            advice = (
                "if it persists, check the Ollama server log (logs/ollama-serve.log in the data "
                "directory when mcp-ollama started it) or try a smaller model."
            )
            message += f". This is a failure inside Ollama: call again; {advice}"
            self.person = f"{self._what}. This is a failure inside Ollama: run it again; {advice}"
        super().__init__(message)


class ModelNotFoundError(OllamaResponseError):
    """The named model is not installed in the daemon; `installed` are its tagged variants
    that are (`llama3.2:1b` for a bare `llama3.2`, which Ollama reads as `llama3.2:latest`)."""

    def __init__(
        self, model: str, error: str | None = None, *, installed: Sequence[str] = ()
    ) -> None:
        self.model = model
        self.installed = list(installed)
        super().__init__(error or f"model '{model}' not found", 404)
        if not self.installed:
            self.args = (
                f"model '{model}' is not pulled: call pull_model with model='{model}' first, "
                "or list_local_models to see what is installed.",
            )
            self.person = (
                f"model '{model}' is not installed: pull it with `ollama pull {model}`, or see "
                "what is installed with `ollama list`."
            )
            return
        full = _with_latest(model)
        these = "that" if len(self.installed) == 1 else "one of those"
        head = f"model '{model}' ({full}) is not pulled; installed: {', '.join(self.installed)}"
        self.args = (f"{head}; pass {these}, or call pull_model with model='{full}'.",)
        self.person = f"{head}; pass {these}, or pull it with `ollama pull {full}`."


class NotOllamaError(OllamaResponseError):
    """Something answered at the daemon's address, but not the way Ollama answers."""

    def __init__(
        self, base_url: str, path: str, status_code: int, body: str, *, setting: str = "OLLAMA_HOST"
    ) -> None:
        self.base_url = base_url
        self.path = path
        super().__init__(body, status_code)
        if body == "404 page not found":  # Ollama's own router, for a route it does not have
            self._what = f"Ollama at {base_url} has no {path} endpoint (HTTP 404)"
            advice = f"update Ollama (https://ollama.com/download), or check {setting}"
        else:
            self._what = (
                f"the server at {base_url} answered {path} with HTTP {status_code} ({body}), "
                "which is not an Ollama answer"
            )
            advice = f"check that {setting} points at Ollama (port 11434 by default)"
        self.args = (f"{self._what}: {advice}.",)


class ModelNotOnHostError(ModelNotFoundError):
    """The host asked (or no host of the fleet) has the model; the message says what to do."""

    def __init__(self, model: str, message: str) -> None:
        super().__init__(model)
        self.args = (message,)
        self.person = None


class MalformedResponseError(OllamaError):
    """The daemon sent something that does not follow the Ollama API."""

    def __init__(self, detail: str, *, setting: str = "OLLAMA_HOST") -> None:
        self.detail = detail
        self._what = f"Ollama sent a malformed response ({detail})"
        super().__init__(
            f"{self._what}; check that {setting} points at an Ollama daemon, and retry."
        )


class GenerationInterruptedError(OllamaError):
    """A generation stream broke after tokens had arrived; it is never silently repeated."""

    def __init__(self, tokens: int, cause: OllamaError) -> None:
        self.tokens = tokens
        self.cause = cause
        self._what = (
            f"the generation was interrupted after {tokens} token(s) and the partial answer was "
            f"discarded: {cause.what}"
        )
        again = ""
        if isinstance(cause, OllamaStallError):
            again = "; if it stalls again, raise the stall timeout (MCP_OLLAMA_STALL_TIMEOUT)"
        super().__init__(f"{self._what}. Call the tool again to retry{again}.")
        self.person = f"{self._what}. Run the command again to retry{again}."


class PullInterruptedError(OllamaError):
    """A download broke after it had started; Ollama keeps the layers it finished, so pulling
    again resumes it."""

    def __init__(self, model: str, done: str, cause: OllamaError) -> None:
        self.model = model
        self.cause = cause
        after = f" after {done}" if done else ""
        self._what = f"the download of '{model}' was cut{after}: {cause.what}"
        kept = "the layers already downloaded are kept"
        super().__init__(f"{self._what}. Call pull_model again to resume it: {kept}.")
        self.person = f"{self._what}. Pull it again to resume: {kept}."


class OllamaStartupError(OllamaError):
    """Auto-starting the daemon failed, or no `ollama` binary was found."""

    def __init__(self, message: str, *, what: str | None = None) -> None:
        super().__init__(message)
        self._what = what


class OllamaCLIError(OllamaError):
    """The `ollama` command-line fallback failed."""

    def __init__(self, message: str, *, what: str | None = None) -> None:
        super().__init__(message)
        self._what = what


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


class DeclinedError(MCPOllamaError):
    """The user was asked to confirm an operation and did not: nothing was changed."""


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


def _with_latest(name: str) -> str:
    """The name with Ollama's implicit `:latest` tag made explicit (see `ollama.names`)."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
