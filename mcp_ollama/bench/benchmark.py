"""Benchmarks and model comparisons, measured with Ollama's own counters.

Every run streams (`OllamaClient.stream_generate` under `aclosing`, so a cancellation closes the
request), which lets time to first token be measured here, on a monotonic clock, from the moment
the request is sent to the first chunk carrying text or thinking. Everything else comes from the
final chunk: generation tokens/s is `eval_count / eval_duration`, prompt-eval tokens/s is
`prompt_eval_count / prompt_eval_duration`, never characters per second. Warmup runs load the
model and are left out of every figure. Models run one at a time: concurrent runs on one GPU would
measure each other.

A comparison runs `Target`s: a model on a daemon, so one model on several hosts ranks the machines
(each named model@host). This module is the runner; what runs is in `bench.suite`, what was
measured in `bench.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp_ollama.bench.metrics import (
    BenchmarkResult,
    ComparisonResult,
    ModelOutcome,
    PromptResponse,
    RunMetrics,
    rank_models,
    summarize,
)
from mcp_ollama.bench.suite import DEFAULT_MAX_TOKENS, MAX_MODELS, BenchmarkPlan, check_counts
from mcp_ollama.errors import InvalidInputError, MalformedResponseError, MCPOllamaError
from mcp_ollama.generation import ResolvedOptions, call_deadline
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.missing import explain_missing
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.types import GenerateRequest
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import ns_to_ms, per_second

__all__ = ["Target", "check_models", "compare_models", "compare_targets", "run_benchmark"]

Resolver = Callable[[str], ResolvedOptions]
"""Resolves a model's options (explicit > preset > per-model defaults)."""


@dataclass(frozen=True)
class Target:
    """One model on one daemon, as a comparison runs and ranks it; `error` marks one that
    cannot run (no host has the model) and is reported as failed."""

    model: str
    client: OllamaClient | None
    host: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """How reports name it: the model, or model@host."""
        return f"{self.model}@{self.host}" if self.host else self.model


class _Progress:
    """Counts generations across a whole benchmark or comparison: one notification per run."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0

    async def step(self, message: str) -> None:
        self.done += 1
        if self.callback is not None:
            await self.callback(self.done, self.total, message)

    async def skip_to(self, done: int) -> None:
        """After a model failed, account for the runs it will not make."""
        self.done = max(self.done, done)


async def _measure(
    client: OllamaClient, request: GenerateRequest, timeout: float | None
) -> tuple[RunMetrics, str, str | None]:
    """Stream one generation; returns metrics (prompt/run unset), the text and the thinking."""
    text: list[str] = []
    thinking: list[str] = []
    ttft: float | None = None
    final = None
    with call_deadline(timeout, "a benchmark run"):
        start = time.perf_counter()
        async with aclosing(client.stream_generate(request)) as chunks:
            async for chunk in chunks:
                if ttft is None and (chunk.response or chunk.thinking):
                    ttft = time.perf_counter() - start
                text.append(chunk.response)
                if chunk.thinking:
                    thinking.append(chunk.thinking)
                if chunk.done:
                    final = chunk
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
    return metrics, "".join(text), "".join(thinking) or None


async def _run_model(
    client: OllamaClient,
    model: str,
    plan: BenchmarkPlan,
    resolved: ResolvedOptions,
    progress: _Progress,
    keep_alive: str | float | None,
    label: str | None = None,
) -> ModelOutcome:
    name = label or model
    options = dict(resolved.options)
    options.setdefault("num_predict", DEFAULT_MAX_TOKENS)
    measured: list[RunMetrics] = []
    responses: list[PromptResponse] = []
    for item in plan.prompts:
        request = GenerateRequest(
            model=model, prompt=item.prompt, options=options, keep_alive=keep_alive
        )
        for index in range(plan.warmup):
            await _measure(client, request, resolved.timeout)
            await progress.step(f"{name}: {item.name}, warmup {index + 1}/{plan.warmup}")
        for index in range(1, plan.runs + 1):
            metrics, text, thinking = await _measure(client, request, resolved.timeout)
            measured.append(metrics.model_copy(update={"prompt": item.name, "run": index}))
            if index == 1:
                responses.append(PromptResponse(prompt=item.name, response=text, thinking=thinking))
            await progress.step(
                f"{name}: {item.name}, run {index}/{plan.runs}, "
                f"{_fmt(metrics.tokens_per_second)} tokens/s"
            )
    return ModelOutcome(
        model=name,
        options=options,
        summary=summarize(measured),
        metrics=measured,
        responses=responses,
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def run_benchmark(
    client: OllamaClient,
    model: str,
    plan: BenchmarkPlan,
    resolve: Resolver,
    *,
    keep_alive: str | float | None = None,
    on_progress: ProgressCallback | None = None,
    host: str | None = None,
) -> BenchmarkResult:
    """Run the plan's prompts on one model, `warmup` unmeasured then `runs` measured times each.

    Raises:
        InvalidInputError: a bad model name, run count or option.
        ModelNotFoundError: the model is not pulled.
        OllamaError: a run failed (nothing is reported for a benchmark that did not finish).
    """
    model = validate_model_name(model)
    check_counts(plan.runs, plan.warmup)
    resolved = resolve(model)
    created_at = _now()
    progress = _Progress(on_progress, plan.runs_per_model)
    label = Target(model, client, host).label
    async with explain_missing(client):
        outcome = await _run_model(client, model, plan, resolved, progress, keep_alive, label)
    return BenchmarkResult(
        created_at=created_at,
        model=model,
        host=host,
        preset=plan.preset,
        options=outcome.options,
        prompts=plan.prompts,
        runs=plan.runs,
        warmup=plan.warmup,
        summary=outcome.summary,
        metrics=outcome.metrics,
        responses=outcome.responses,
    )


async def compare_models(
    client: OllamaClient,
    models: Sequence[str],
    plan: BenchmarkPlan,
    resolve: Resolver,
    *,
    keep_alive: str | float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ComparisonResult:
    """Run the same plan on 2..N models of one daemon one after another and rank them.

    Raises:
        InvalidInputError: fewer than two distinct models, a bad name, run count or option.
    """
    targets = [Target(name, client) for name in check_models(models)]
    return await compare_targets(
        targets, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
    )


async def compare_targets(
    targets: Sequence[Target],
    plan: BenchmarkPlan,
    resolve: Resolver,
    *,
    keep_alive: str | float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ComparisonResult:
    """Run the same plan on 2..N targets (models, or a model on several hosts) one after
    another and rank them per metric.

    A target that fails (not pulled, daemon error, timeout) is reported with its error and the
    others still run.

    Raises:
        InvalidInputError: fewer than two targets, too many, a bad run count or option.
    """
    if len(targets) < 2:
        raise InvalidInputError(
            "compare_models needs at least two models (or one model on two hosts); use "
            "benchmark_model for one"
        )
    if len(targets) > MAX_MODELS:
        raise InvalidInputError(
            f"{len(targets)} models (model-host pairs) given; compare at most {MAX_MODELS}"
        )
    check_counts(plan.runs, plan.warmup)
    # Resolve every model's options first: a bad explicit option fails before any run.
    resolved = {target.model: resolve(target.model) for target in targets}
    created_at = _now()
    progress = _Progress(on_progress, plan.runs_per_model * len(targets))
    outcomes: list[ModelOutcome] = []
    for position, target in enumerate(targets, 1):
        try:
            if target.client is None:
                raise InvalidInputError(target.error or f"'{target.model}' cannot run")
            async with explain_missing(target.client):
                outcome = await _run_model(
                    target.client,
                    target.model,
                    plan,
                    resolved[target.model],
                    progress,
                    keep_alive,
                    target.label,
                )
        except MCPOllamaError as exc:
            outcome = ModelOutcome.failure(target.label, exc)
            await progress.skip_to(plan.runs_per_model * position)
        outcomes.append(outcome.model_copy(update={"host": target.host}))
    return ComparisonResult(
        created_at=created_at,
        models=outcomes,
        rankings=rank_models([o for o in outcomes if o.ok]),
        failed=[o.model for o in outcomes if not o.ok],
        preset=plan.preset,
        prompts=plan.prompts,
        runs=plan.runs,
        warmup=plan.warmup,
    )


def check_models(models: Sequence[str], *, at_least: int = 2, hosts: bool = False) -> list[str]:
    """The names validated, each model once (`hosts`: the caller could also give hosts).

    Raises:
        InvalidInputError: a bad name, a model listed twice, or fewer than `at_least`.
    """
    names = [validate_model_name(m) for m in models]
    seen: dict[str, str] = {}
    for name in names:
        key = canonical_name(name)
        if key in seen:
            raise InvalidInputError(
                f"'{name}' is listed twice (as '{seen[key]}'); compare distinct models"
            )
        seen[key] = name
    if len(names) < at_least:
        alternative = " (or one model and two hosts)" if hosts else ""
        raise InvalidInputError(
            f"compare_models needs at least two models{alternative}; use benchmark_model for one"
        )
    if len(names) > MAX_MODELS:
        raise InvalidInputError(f"{len(names)} models given; compare at most {MAX_MODELS}")
    return names
