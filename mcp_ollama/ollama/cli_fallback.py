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

This module runs the CLI; parsing what it prints lives in `ollama.cli_output`.
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
)
from mcp_ollama.hosts import HostConfig
from mcp_ollama.ollama.cli_output import (
    PullTracker,
    parse_list,
    parse_show,
    strip_ansi,
    terminal_lines,
)
from mcp_ollama.ollama.lifecycle import find_ollama_binary, missing_binary_error
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.types import ChatMessage, ChatRequest, GenerateRequest, ThinkLevel
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import ChatResult, GenerationResult, ModelInfo, ModelList, PullResult
from mcp_ollama.settings import Settings

__all__ = ["OllamaCLI"]

TAIL_CHARS = 80

LineCallback = Callable[[str], Awaitable[None]]


@dataclass
class _Completed:
    returncode: int
    stdout: str
    stderr: str


class OllamaCLI:
    """Runs the `ollama` executable against the configured daemon, bounded in time."""

    def __init__(self, settings: Settings, *, host: HostConfig | None = None) -> None:
        self.settings = settings
        self.host = host or settings.host_configs()[0]

    @property
    def binary(self) -> str | None:
        """The executable's path, or None when it is not installed."""
        return find_ollama_binary(self.settings)

    # -- commands ---------------------------------------------------------------------------

    async def list_models(self) -> ModelList:
        """`ollama list`.

        Raises:
            OllamaCLIError: the command failed.
        """
        done = await self._run(["list"])
        return ModelList(
            models=parse_list(done.stdout),
            cached_at=datetime.now(UTC).isoformat(),
            served_by="cli",
        )

    async def show(self, model: str) -> ModelInfo:
        """`ollama show MODEL`.

        Raises:
            ModelNotFoundError: the model is not installed.
            OllamaCLIError: the command failed.
        """
        model = validate_model_name(model)
        done = await self._run(["show", model], model=model)
        return parse_show(done.stdout, model)

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        format: str | dict[str, Any] | None = None,
        think: ThinkLevel | None = None,
        keep_alive: str | float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """`ollama run MODEL` with the prompt on stdin, for an installed model; the answer without
        token counts.

        Raises:
            ModelNotFoundError: `ollama list` does not show the model (the CLI would pull it).
            OllamaCLIError: the command failed.
        """
        model = validate_model_name(model)
        await self._require_installed(model)
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

        done = await self._run(args, model=model, stdin=prompt.encode("utf-8"), on_stdout=on_stdout)
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
        on_progress: ProgressCallback | None = None,
    ) -> PullResult:
        """`ollama pull MODEL`, with progress read from the bars it draws on stderr.

        Raises:
            OllamaCLIError: the command failed (for example the model is not in the registry).
        """
        model = validate_model_name(model)
        tracker = PullTracker(on_progress)
        args = ["pull", model, *(["--insecure"] if insecure else [])]
        await self._run(args, on_stderr_line=tracker.line)
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
        self, request: GenerateRequest
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
            on_progress=progress,
        )

    def chat_fallback(
        self, request: ChatRequest
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
            on_progress=progress,
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _require_installed(self, model: str) -> None:
        installed = await self.list_models()
        # Exact names only: `ollama run llama3.2` pulls llama3.2:latest even if llama3.2:1b is here.
        if not any(canonical_name(m.name) == canonical_name(model) for m in installed.models):
            raise ModelNotFoundError(model)

    async def _run(
        self,
        args: list[str],
        *,
        model: str | None = None,
        stdin: bytes | None = None,
        on_stdout: LineCallback | None = None,
        on_stderr_line: LineCallback | None = None,
    ) -> _Completed:
        binary = self.binary
        if binary is None:
            raise missing_binary_error(self.settings, self.host.base_url)
        # A call's own deadline, when it has one, encloses this bound (mcp_ollama.deadline).
        limit = self.settings.cli_timeout
        # The CLI reads OLLAMA_HOST the same way we do; colours off in case it checks.
        env = {**os.environ, "OLLAMA_HOST": self.host.base_url, "NO_COLOR": "1"}
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
                f"`ollama {args[0]}` did not finish within {limit:g} s and was stopped; raise "
                "MCP_OLLAMA_CLI_TIMEOUT if it needs longer"
            ) from exc
        except OSError as exc:
            raise OllamaCLIError(f"cannot run {binary!r}: {exc.strerror or exc}") from exc
        done = _Completed(returncode, "".join(stdout), stderr.text)
        if returncode != 0:
            raise _failure(args[0], done, model, self.host.base_url)
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
        what = f"the `ollama` CLI could not reach Ollama at {base_url} either ({message})"
        return OllamaCLIError(
            f"{what}; start it with `ollama serve`, or set OLLAMA_HOST to where it listens",
            what=what,
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
