"""The `ollama` command-line fallback: `run`, `list`, `show` and `pull` as subprocesses.

The CLI is itself a client of the same daemon, so it only helps when our HTTP path is what broke
(a proxy, a client bug, a flaky connection) and the daemon still answers it. It cannot pass
options, system prompts, chat history, tools or images, and reports no token counts; results say
`served_by="cli"`. Hygiene, from `ollama/ollama: cmd/cmd.go`: argv lists only; model names
validated first; never our own stdin (under stdio it is the MCP protocol, and the CLI reads a
non-TTY stdin to EOF): `list`, `show` and `pull` get /dev/null, and `run` gets a pipe of its own
carrying the prompt, which the CLI reads as the whole prompt when no prompt argument is given.
That keeps prompts out of argv (readable by every local user in /proc, limited to 128 KiB, and
misread as flags when they start with '-'). `--nowordwrap` (word wrap rewrites the text with
escape codes even into a pipe); `--hidethinking`; ANSI codes and the braille spinner stripped;
`Error: ...` plus exit 1 is a failure; a model `ollama list` does not show is refused (`ollama
run` would pull it).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from mcp_ollama.errors import (
    InvalidInputError,
    ModelNotFoundError,
    OllamaCLIError,
    OllamaStartupError,
)
from mcp_ollama.ollama.lifecycle import find_ollama_binary, missing_binary_message
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.types import ChatMessage, ChatRequest, GenerateRequest, ThinkLevel
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import (
    ChatResult,
    GenerationResult,
    LocalModel,
    ModelInfo,
    ModelList,
    PullResult,
)
from mcp_ollama.settings import Settings

__all__ = [
    "OllamaCLI",
    "parse_list",
    "parse_show",
    "parse_size",
    "strip_ansi",
    "terminal_lines",
]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST) and two-character escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]?B)$")
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}
_LIST_ROW = re.compile(
    r"^(?P<name>\S+)\s+(?P<id>\S+)\s+(?P<size>-|\d+(?:\.\d+)?\s+[KMGTP]?B)\s+(?P<modified>.*?)\s*$"
)
_PULL_LAYER = re.compile(
    r"pulling (?P<digest>[0-9a-f]{6,64}):\s*(?P<percent>\d{1,3})%"
    r"(?:.*?(?P<done>\d+(?:\.\d+)?\s*[KMGTP]?B)(?:\s*/\s*(?P<total>\d+(?:\.\d+)?\s*[KMGTP]?B))?)?"
)
_PULL_PHASES = ("pulling manifest", "verifying sha256 digest", "writing manifest", "success")
TAIL_CHARS = 80

LineCallback = Callable[[str], Awaitable[None]]


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences.

    >>> strip_ansi('\\x1b[?25l\\x1b[1GHello\\x1b[K world\\x1b[?25h')
    'Hello world'
    """
    return _ANSI.sub("", text)


def terminal_lines(text: str) -> list[str]:
    """What a terminal would have shown, one entry per redraw: escape codes, carriage returns
    and the spinner become line breaks, and blank lines are dropped.

    >>> terminal_lines('\\x1b[1G⠋ \\x1b[K\\x1b[1G⠙ \\x1b[K\\x1b[1GError: model "x" not found\\n')
    ['Error: model "x" not found']
    """
    lines = re.split(r"[\r\n]+", _ANSI.sub("\n", text))
    cleaned = (line.strip().strip(_SPINNER).strip() for line in lines)
    return [line for line in cleaned if line]


def parse_size(text: str) -> int:
    """Bytes from a size as `ollama list` prints it (decimal units; `-` for cloud stubs).

    >>> parse_size('4.7 GB'), parse_size('397 MB'), parse_size('999 B'), parse_size('-')
    (4700000000, 397000000, 999, 0)
    """
    match = _SIZE.match(text.strip())
    if match is None:
        return 0
    return round(float(match["number"]) * _UNITS[match["unit"]])


def parse_list(output: str) -> list[LocalModel]:
    """Parse `ollama list`: columns are padded with spaces, and SIZE and MODIFIED contain spaces.

    >>> rows = parse_list(
    ...     'NAME                       ID              SIZE      MODIFIED    \\n'
    ...     'llama3.2:1b                baf6a787fdff    1.3 GB    2 days ago     \\n'
    ...     'nomic-embed-text:latest    0a109f422b47    274 MB    3 weeks ago    \\n')
    >>> [(m.name, m.digest, m.size, m.size_bytes, m.modified_at) for m in rows][0]
    ('llama3.2:1b', 'baf6a787fdff', '1.3 GB', 1300000000, '2 days ago')
    >>> rows[1].modified_at
    '3 weeks ago'
    """
    models: list[LocalModel] = []
    for line in strip_ansi(output).splitlines():
        if not line.strip() or line.split()[0] == "NAME":
            continue
        match = _LIST_ROW.match(line.strip())
        if match is None:
            continue  # a wrapped continuation of a long cell
        size = match["size"]
        models.append(
            LocalModel(
                name=match["name"],
                digest=match["id"],
                size_bytes=parse_size(size),
                size=size,
                modified_at=match["modified"],
            )
        )
    return models


def parse_show(output: str, model: str) -> ModelInfo:
    """Parse the default output of `ollama show MODEL` into what `ModelInfo` can hold.

    >>> info = parse_show(
    ...     '  Model\\n    architecture        llama     \\n    parameters          1.2B      \\n'
    ...     '    context length      131072    \\n    embedding length    2048      \\n'
    ...     '    quantization        Q8_0      \\n\\n  Capabilities\\n    completion    \\n'
    ...     '    tools         \\n\\n  Parameters\\n    stop    "<|eot_id|>"    \\n\\n'
    ...     '  License\\n    LLAMA 3.2 COMMUNITY LICENSE AGREEMENT    \\n    ...    \\n\\n',
    ...     'llama3.2:1b')
    >>> info.family, info.parameter_size, info.context_length, info.quantization
    ('llama', '1.2B', 131072, 'Q8_0')
    >>> info.capabilities, info.parameters, info.license
    (['completion', 'tools'], 'stop "<|eot_id|>"', 'LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\\n...')
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in strip_ansi(output).splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent <= 2:
            current = sections.setdefault(line.strip().lower(), [])
        elif current is not None:
            current.append(line.strip())
    facts: dict[str, str] = {}
    for row in sections.get("model", []):
        key, *value = re.split(r"\s{2,}", row, maxsplit=1)
        facts[key.lower()] = value[0] if value else ""
    parameters = [
        " ".join(re.split(r"\s{2,}", row, maxsplit=1)) for row in sections.get("parameters", [])
    ]
    return ModelInfo(
        name=model if ":" in model.rsplit("/", 1)[-1] else canonical_name(model),
        family=facts.get("architecture") or None,
        parameter_size=facts.get("parameters") or None,
        quantization=facts.get("quantization") or None,
        context_length=_int_or_none(facts.get("context length")),
        embedding_length=_int_or_none(facts.get("embedding length")),
        capabilities=sections.get("capabilities", []),
        parameters="\n".join(parameters),
        system="\n".join(sections.get("system", [])),
        license="\n".join(sections.get("license", [])),
        served_by="cli",
    )


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@dataclass
class _Completed:
    returncode: int
    stdout: str
    stderr: str


class OllamaCLI:
    """Runs the `ollama` executable against the configured daemon, bounded in time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def binary(self) -> str | None:
        """The executable's path, or None when it is not installed."""
        return find_ollama_binary(self.settings)

    # -- commands ---------------------------------------------------------------------------

    async def list_models(self, *, timeout: float | None = None) -> ModelList:
        """`ollama list`.

        Raises:
            OllamaCLIError: the command failed.
        """
        done = await self._run(["list"], timeout=timeout)
        return ModelList(
            models=parse_list(done.stdout),
            cached_at=datetime.now(UTC).isoformat(),
            served_by="cli",
        )

    async def show(self, model: str, *, timeout: float | None = None) -> ModelInfo:
        """`ollama show MODEL`.

        Raises:
            ModelNotFoundError: the model is not installed.
            OllamaCLIError: the command failed.
        """
        model = validate_model_name(model)
        done = await self._run(["show", model], timeout=timeout, model=model)
        return parse_show(done.stdout, model)

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        format: str | dict[str, Any] | None = None,
        think: ThinkLevel | None = None,
        keep_alive: str | float | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """`ollama run MODEL` with the prompt on stdin, for an installed model; the answer without
        token counts.

        Raises:
            ModelNotFoundError: `ollama list` does not show the model (the CLI would pull it).
            OllamaCLIError: the command failed.
        """
        model = validate_model_name(model)
        await self._require_installed(model, timeout=timeout)
        args = ["run", model, "--nowordwrap", "--hidethinking"]
        if format:
            args += ["--format", format if isinstance(format, str) else json.dumps(format)]
        if think is not None:
            args.append(f"--think={str(think).lower()}")
        if keep_alive is not None:
            args += ["--keepalive", _go_duration(keep_alive)]
        text: list[str] = []
        throttle = ProgressThrottle(on_progress)

        async def on_stdout(chunk: str) -> None:
            text.append(chunk)
            if throttle.enabled:
                tail = strip_ansi("".join(text[-TAIL_CHARS:]))[-TAIL_CHARS:]
                await throttle.update(len(text), None, tail)

        done = await self._run(
            args, timeout=timeout, model=model, stdin=prompt.encode("utf-8"), on_stdout=on_stdout
        )
        answer = strip_ansi(done.stdout)
        # The CLI ends a non-empty answer with a blank line of its own.
        answer = answer.removesuffix("\n\n")
        await throttle.update(len(text) + 1, None, answer[-TAIL_CHARS:], force=True)
        return GenerationResult(model=model, text=answer, done_reason="stop", served_by="cli")

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        format: str | dict[str, Any] | None = None,
        think: ThinkLevel | None = None,
        keep_alive: str | float | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ChatResult:
        """The last user turn through `ollama run` (the CLI has no chat history).

        Raises:
            InvalidInputError: there is no user message.
            ModelNotFoundError: `ollama list` does not show the model.
            OllamaCLIError: the command failed.
        """
        last = next((m for m in reversed(messages) if m.role == "user"), None)
        if last is None:
            raise InvalidInputError("messages has no user message to answer")
        result = await self.generate(
            model,
            last.content,
            format=format,
            think=think,
            keep_alive=keep_alive,
            timeout=timeout,
            on_progress=on_progress,
        )
        return ChatResult(
            model=result.model,
            message=ChatMessage(role="assistant", content=result.text),
            done_reason=result.done_reason,
            served_by="cli",
        )

    async def pull(
        self,
        model: str,
        *,
        insecure: bool = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> PullResult:
        """`ollama pull MODEL`, with progress read from the bars it draws on stderr.

        Raises:
            OllamaCLIError: the command failed (for example the model is not in the registry).
        """
        model = validate_model_name(model)
        tracker = _PullTracker(on_progress)
        args = ["pull", model, *(["--insecure"] if insecure else [])]
        await self._run(args, timeout=timeout, on_stderr_line=tracker.line)
        await tracker.line("success")
        return PullResult(
            model=model,
            status="success",
            total_bytes=tracker.total_bytes,
            completed_bytes=tracker.total_bytes,
            served_by="cli",
        )

    # -- standing in for an HTTP request ----------------------------------------------------

    def generate_fallback(
        self, request: GenerateRequest, timeout: float | None
    ) -> Callable[[ProgressCallback | None], Awaitable[GenerationResult]] | None:
        """The CLI version of a generate request, or None when the CLI cannot carry its meaning
        (images, a suffix or raw mode); options and the system prompt are not applied."""
        if request.images or request.suffix or request.raw:
            return None
        return lambda progress: self.generate(
            request.model,
            request.prompt,
            format=request.format,
            think=request.think,
            keep_alive=request.keep_alive,
            timeout=timeout,
            on_progress=progress,
        )

    def chat_fallback(
        self, request: ChatRequest, timeout: float | None
    ) -> Callable[[ProgressCallback | None], Awaitable[ChatResult]] | None:
        """The CLI version of a chat request (its last user turn), or None when it carries tools
        or images, which the CLI cannot send."""
        if request.tools or any(m.images for m in request.messages):
            return None
        return lambda progress: self.chat(
            request.model,
            request.messages,
            format=request.format,
            think=request.think,
            keep_alive=request.keep_alive,
            timeout=timeout,
            on_progress=progress,
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _require_installed(self, model: str, *, timeout: float | None) -> None:
        installed = await self.list_models(timeout=timeout)
        # Exact names only: `ollama run llama3.2` pulls llama3.2:latest even if llama3.2:1b is here.
        if not any(canonical_name(m.name) == canonical_name(model) for m in installed.models):
            raise ModelNotFoundError(model)

    async def _run(
        self,
        args: list[str],
        *,
        timeout: float | None,
        model: str | None = None,
        stdin: bytes | None = None,
        on_stdout: LineCallback | None = None,
        on_stderr_line: LineCallback | None = None,
    ) -> _Completed:
        binary = self.binary
        if binary is None:
            raise OllamaStartupError(missing_binary_message(self.settings))
        limit = min(timeout or self.settings.cli_timeout, self.settings.cli_timeout)
        # The CLI reads OLLAMA_HOST the same way we do; colours off in case it checks.
        env = {**os.environ, "OLLAMA_HOST": self.settings.base_url, "NO_COLOR": "1"}
        stdout: list[str] = []
        stderr = _StderrLines(on_stderr_line)
        try:
            with anyio.fail_after(limit):
                process = await anyio.open_process(
                    [binary, *args],
                    stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                )
                async with process:  # cancelled or timed out: the process is killed
                    assert process.stdout is not None
                    assert process.stderr is not None
                    async with anyio.create_task_group() as tg:
                        if process.stdin is not None:
                            tg.start_soon(_feed, process.stdin, stdin or b"")
                        tg.start_soon(_drain, process.stdout, stdout, on_stdout)
                        tg.start_soon(_drain_lines, process.stderr, stderr)
                    returncode = await process.wait()
        except TimeoutError as exc:
            raise OllamaCLIError(
                f"`ollama {args[0]}` did not finish within {limit:g} s and was stopped; pass a "
                "larger `timeout` or raise MCP_OLLAMA_CLI_TIMEOUT"
            ) from exc
        except OSError as exc:
            raise OllamaCLIError(f"cannot run {binary!r}: {exc.strerror or exc}") from exc
        done = _Completed(returncode, "".join(stdout), stderr.text)
        if returncode != 0:
            raise _failure(args[0], done, model, self.settings.base_url)
        return done


class _StderrLines:
    """Collects stderr, handing each finished terminal line to a callback."""

    def __init__(self, callback: LineCallback | None) -> None:
        self._callback = callback
        self._raw: list[str] = []
        self._pending = ""

    @property
    def text(self) -> str:
        return "".join(self._raw)

    async def feed(self, chunk: str, *, final: bool = False) -> None:
        self._raw.append(chunk)
        if self._callback is None:
            return
        self._pending += chunk
        # A redraw ends at a line break, a carriage return or the next escape sequence.
        parts = re.split(r"[\r\n]|(?=\x1b)", self._pending)
        self._pending = "" if final else parts.pop()
        for line in terminal_lines("\n".join(parts)):
            await self._callback(line)


async def _feed(stream: ByteSendStream, data: bytes) -> None:
    """Write the whole input, then close it: the CLI reads stdin to EOF before it starts."""
    async with stream:
        with contextlib.suppress(anyio.BrokenResourceError):  # it exited early: stderr says why
            await stream.send(data)


async def _drain(stream: ByteReceiveStream, sink: list[str], callback: LineCallback | None) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in stream:
        text = decoder.decode(chunk)
        sink.append(text)
        if callback is not None and text:
            await callback(text)
    sink.append(decoder.decode(b"", final=True))


async def _drain_lines(stream: ByteReceiveStream, lines: _StderrLines) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in stream:
        await lines.feed(decoder.decode(chunk))
    await lines.feed(decoder.decode(b"", final=True), final=True)


def _failure(command: str, done: _Completed, model: str | None, base_url: str) -> Exception:
    """The error a failed command deserves: `Error: ...` is the CLI's own message."""
    lines = terminal_lines(done.stderr)
    message = next(
        (line.removeprefix("Error: ") for line in reversed(lines) if line.startswith("Error: ")),
        lines[-1] if lines else f"exit status {done.returncode}",
    )
    if model is not None and "not found" in message and command in ("show", "run"):
        return ModelNotFoundError(model, message)
    if "could not connect" in message or "connection refused" in message:
        return OllamaCLIError(
            f"the `ollama` CLI could not reach Ollama at {base_url} either ({message}); start it "
            "with `ollama serve`, or set OLLAMA_HOST to where it listens"
        )
    return OllamaCLIError(f"`ollama {command}` failed: {message}")


def _go_duration(value: str | float) -> str:
    """keep_alive as the CLI's `--keepalive` wants it: a Go duration.

    >>> _go_duration('5m'), _go_duration(30), _go_duration(-1), _go_duration(0)
    ('5m', '30s', '-1s', '0s')
    """
    if isinstance(value, str):
        return value
    return f"{value:g}s"


class _PullTracker:
    """Turns the bars `ollama pull` draws into growing progress and byte counts."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._throttle = ProgressThrottle(callback)
        self._percent: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._phase = 0

    @property
    def total_bytes(self) -> int:
        return sum(self._totals.values())

    async def line(self, line: str) -> None:
        match = _PULL_LAYER.search(line)
        status = line
        if match is not None:
            digest = match["digest"]
            percent = min(int(match["percent"]), 100)
            self._percent[digest] = max(self._percent.get(digest, 0), percent)
            total = match["total"] or (match["done"] if percent == 100 else None)
            if total:
                self._totals[digest] = parse_size(total)
            status = f"pulling {digest}"
        elif line in _PULL_PHASES:
            self._phase = max(self._phase, _PULL_PHASES.index(line))
        else:
            return
        progress = sum(self._percent.values()) + 100 * self._phase + 1
        await self._throttle.update(progress, None, status, force=line == "success")
