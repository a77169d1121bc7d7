"""Batches: many prompts to one model under a concurrency limit, each failure kept to its item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
from pydantic import Field

from mcp_ollama.errors import InvalidInputError, MCPOllamaError
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import FileRead, GenerationResult, Result, Usage

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_BATCH",
    "BatchItem",
    "BatchResult",
    "check_batch",
    "run_batch",
]

DEFAULT_CONCURRENCY = 4
MAX_BATCH = 1000

GenerateOne = Callable[[str], Awaitable[GenerationResult]]


class BatchItem(Result):
    """The outcome of one prompt of a batch."""

    index: int = Field(description="Position of the prompt in the request, from 0")
    ok: bool
    text: str | None = Field(None, description="The answer, when ok")
    done_reason: str | None = None
    error: str | None = Field(None, description="Why this prompt failed, when not ok")
    usage: Usage | None = None


class BatchResult(Result):
    """Every prompt's outcome, in request order."""

    model: str
    items: list[BatchItem]
    succeeded: int
    failed: int
    concurrency: int
    prompt_tokens: int = Field(0, description="Prompt tokens over the successful items")
    output_tokens: int = Field(0, description="Output tokens over the successful items")
    files: list[FileRead] | None = Field(None, description="The files read into every prompt")


def check_batch(prompts: Sequence[str], concurrency: int | None, max_concurrency: int) -> int:
    """Validate a batch and return the concurrency to use.

    >>> check_batch(['a', 'b'], None, 16), check_batch(['a'], 8, 16)
    (4, 8)

    Raises:
        InvalidInputError: no prompts, too many, or a concurrency out of range.
    """
    if not prompts:
        raise InvalidInputError("prompts is empty: pass at least one prompt")
    if len(prompts) > MAX_BATCH:
        raise InvalidInputError(
            f"{len(prompts)} prompts is more than {MAX_BATCH} per batch; split the batch"
        )
    if concurrency is None:
        return min(DEFAULT_CONCURRENCY, max_concurrency)
    if not 1 <= concurrency <= max_concurrency:
        raise InvalidInputError(
            f"concurrency must be from 1 to {max_concurrency} (MCP_OLLAMA_MAX_CONCURRENT_REQUESTS),"
            f" not {concurrency}"
        )
    return concurrency


async def run_batch(
    model: str,
    prompts: Sequence[str],
    generate: GenerateOne,
    *,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
) -> BatchResult:
    """Run `generate` over every prompt, at most `concurrency` at once.

    Progress is reported once per finished item (items done out of all items), in order.
    An item that fails with one of our errors records the message; the others carry on.
    """
    limiter = anyio.CapacityLimiter(concurrency)
    items: list[BatchItem | None] = [None] * len(prompts)
    report_lock = anyio.Lock()
    done = 0

    async def one(index: int, prompt: str) -> None:
        nonlocal done
        async with limiter:
            try:
                result = await generate(prompt)
            except MCPOllamaError as exc:
                item = BatchItem(index=index, ok=False, error=str(exc))
            else:
                item = BatchItem(
                    index=index,
                    ok=True,
                    text=result.text,
                    done_reason=result.done_reason,
                    usage=result.usage,
                )
        items[index] = item
        # Counting and sending under one lock keeps progress strictly increasing on the wire.
        async with report_lock:
            done += 1
            if on_progress is not None:
                status = "done" if item.ok else "failed"
                await on_progress(done, len(prompts), f"item {index} {status}")

    async with anyio.create_task_group() as tg:
        for index, prompt in enumerate(prompts):
            tg.start_soon(one, index, prompt)

    finished = [item for item in items if item is not None]
    succeeded = [item for item in finished if item.ok]
    return BatchResult(
        model=model,
        items=finished,
        succeeded=len(succeeded),
        failed=len(finished) - len(succeeded),
        concurrency=concurrency,
        prompt_tokens=sum(i.usage.prompt_tokens for i in succeeded if i.usage),
        output_tokens=sum(i.usage.output_tokens for i in succeeded if i.usage),
    )
