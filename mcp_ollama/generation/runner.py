"""Run one generation or chat turn: stream from the daemon, report progress, aggregate. The
call's deadline (`mcp_ollama.deadline`) is opened by the caller, around the whole call."""

from __future__ import annotations

from contextlib import aclosing

from mcp_ollama.errors import (
    GenerationInterruptedError,
    MalformedResponseError,
    OllamaError,
)
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import ChatMessage, ChatRequest, GenerateRequest, ToolCall
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import ChatResult, GenerationResult, Usage

__all__ = ["run_chat", "run_generate"]

TAIL_CHARS = 80


class _Collector:
    """Accumulates streamed text and reports progress: tokens so far, the tail of the text."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.tool_calls: list[ToolCall] = []
        self._throttle = ProgressThrottle(on_progress)

    @property
    def tokens(self) -> int:
        return len(self.text) + len(self.thinking)

    async def add(self, content: str, thinking: str | None, *, done: bool) -> None:
        if content:
            self.text.append(content)
        if thinking:
            self.thinking.append(thinking)
        if self._throttle.enabled and self.tokens:
            tail = "".join(self.text[-TAIL_CHARS:])[-TAIL_CHARS:] or "(thinking)"
            await self._throttle.update(self.tokens, None, tail, force=done)

    def interrupted(self, exc: OllamaError) -> OllamaError:
        """A failure after the first token must not look retryable: it is reported as such."""
        if self.tokens and not isinstance(exc, GenerationInterruptedError):
            return GenerationInterruptedError(self.tokens, exc)
        return exc


async def run_generate(
    client: OllamaClient,
    request: GenerateRequest,
    *,
    on_progress: ProgressCallback | None = None,
) -> GenerationResult:
    """Stream a completion, forwarding progress, and return the whole answer with its usage.

    Raises:
        GenerationInterruptedError: the stream broke after tokens arrived.
        OllamaError: the daemon failed before any token arrived.
    """
    collector = _Collector(on_progress)
    final = None
    try:
        async with aclosing(client.stream_generate(request)) as chunks:
            async for chunk in chunks:
                if chunk.tool_calls:
                    collector.tool_calls.extend(chunk.tool_calls)
                if chunk.done:
                    final = chunk
                await collector.add(chunk.response, chunk.thinking, done=chunk.done)
    except OllamaError as exc:
        raise collector.interrupted(exc) from exc
    if final is None:
        raise MalformedResponseError("the generate stream ended without a final 'done' line")
    return GenerationResult(
        model=final.model or request.model,
        text="".join(collector.text),
        thinking="".join(collector.thinking) or None,
        done_reason=final.done_reason,
        tool_calls=collector.tool_calls or None,
        usage=Usage.from_counters(final),
    )


async def run_chat(
    client: OllamaClient,
    request: ChatRequest,
    *,
    on_progress: ProgressCallback | None = None,
) -> ChatResult:
    """Stream one chat turn and return the assistant message with its usage.

    Raises:
        GenerationInterruptedError: the stream broke after tokens arrived.
        OllamaError: the daemon failed before any token arrived.
    """
    collector = _Collector(on_progress)
    final = None
    try:
        async with aclosing(client.stream_chat(request)) as chunks:
            async for chunk in chunks:
                if chunk.message.tool_calls:
                    collector.tool_calls.extend(chunk.message.tool_calls)
                if chunk.done:
                    final = chunk
                await collector.add(chunk.message.content, chunk.message.thinking, done=chunk.done)
    except OllamaError as exc:
        raise collector.interrupted(exc) from exc
    if final is None:
        raise MalformedResponseError("the chat stream ended without a final 'done' line")
    message = ChatMessage(
        role="assistant",
        content="".join(collector.text),
        thinking="".join(collector.thinking) or None,
        tool_calls=collector.tool_calls or None,
    )
    return ChatResult(
        model=final.model or request.model,
        message=message,
        done_reason=final.done_reason,
        usage=Usage.from_counters(final),
    )
