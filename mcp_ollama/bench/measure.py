"""One measured run: stream a generation and time it, with Ollama's own counters.

Time to first token is measured here, on a monotonic clock, from the moment the request is sent to
the first chunk carrying text or thinking; everything else comes from the final chunk. The stream
runs under `aclosing`, so a cancellation closes the request. How a run reaches a daemon is a
`Measure`: the bench service sends it through the fleet (auto-start, busy retries, auto-pull,
routing and failover), `on_client` straight to one daemon.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import NamedTuple

from mcp_ollama.bench.metrics import RunMetrics
from mcp_ollama.deadline import call_deadline
from mcp_ollama.errors import GenerationInterruptedError, MalformedResponseError, OllamaError
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.types import GenerateRequest
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import ns_to_ms, per_second

__all__ = ["Measure", "Measured", "measure_stream", "on_client"]

RUN_ADVICE = "use a preset with a longer timeout (or none), or a smaller `max_tokens`"


class Measured(NamedTuple):
    """One streamed run: metrics (prompt and run unset), the text, the thinking, and the host it
    ran on (None with one host)."""

    metrics: RunMetrics
    text: str
    thinking: str | None
    host: str | None = None


Measure = Callable[[GenerateRequest, float | None, ProgressCallback | None], Awaitable[Measured]]
"""Runs one request (within the preset's `timeout` per run, reporting what happens before it, such
as an auto-pull, to the callback)."""


async def measure_stream(
    client: OllamaClient, request: GenerateRequest, timeout: float | None
) -> Measured:
    """Stream one generation and measure it.

    Raises:
        GenerationInterruptedError: the stream broke after tokens arrived.
        OllamaError: the daemon failed before any token.
        CallTimeoutError: the run took longer than `timeout`.
    """
    text: list[str] = []
    thinking: list[str] = []
    ttft: float | None = None
    final = None
    with call_deadline(timeout, "a benchmark run", RUN_ADVICE):
        start = time.perf_counter()
        try:
            async with aclosing(client.stream_generate(request)) as chunks:
                async for chunk in chunks:
                    if ttft is None and (chunk.response or chunk.thinking):
                        ttft = time.perf_counter() - start
                    text.append(chunk.response)
                    if chunk.thinking:
                        thinking.append(chunk.thinking)
                    if chunk.done:
                        final = chunk
        except OllamaError as exc:
            if ttft is None:
                raise
            # Never repeated: a run cut after tokens arrived is recorded as what it is.
            raise GenerationInterruptedError(len(text) + len(thinking), exc) from exc
        wall = time.perf_counter() - start
    if final is None:
        raise MalformedResponseError("the generate stream ended without a final 'done' line")
    metrics = RunMetrics(
        prompt="",
        run=0,
        load_ms=ns_to_ms(final.load_duration),
        ttft_ms=None if ttft is None else round(ttft * 1000, 3),
        prompt_tokens_per_second=per_second(final.prompt_eval_count, final.prompt_eval_duration),
        tokens_per_second=per_second(final.eval_count, final.eval_duration),
        total_ms=ns_to_ms(final.total_duration),
        output_tokens=final.eval_count or 0,
        prompt_tokens=final.prompt_eval_count or 0,
        wall_ms=round(wall * 1000, 3),
        done_reason=final.done_reason,
    )
    return Measured(metrics, "".join(text), "".join(thinking) or None)


def on_client(client: OllamaClient) -> Measure:
    """Runs straight to one daemon, without the fleet's resilience (for tests and tools)."""
    return lambda request, timeout, _progress: measure_stream(client, request, timeout)
