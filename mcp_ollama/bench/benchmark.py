"""Benchmarks and model comparisons, measured with Ollama's own counters.

Each run is streamed and timed by `bench.measure`: generation tokens/s is `eval_count /
eval_duration`, prompt-eval tokens/s is `prompt_eval_count / prompt_eval_duration`, never
characters per second. Warmup runs load the model and are left out of every figure. Models run one
at a time: concurrent runs on one GPU would measure each other.

A run goes through a `Measure`: the service's sends it through the fleet (auto-start, busy
retries, auto-pull, routing and failover), `on_client` straight to one daemon. A run that fails is
recorded and the others go on, unless every later run would fail the same way (the model is
missing, the host is gone, the request is refused) or `MAX_FAILED_IN_A_ROW` failed in a row; a
model none of whose runs finished is failed, and a comparison none of whose models finished is an
error (nothing is saved).

A comparison runs `Target`s: a model on a daemon, so one model on several hosts ranks the machines
(each named model@host). This module is the runner; what runs is in `bench.suite`, what was
measured in `bench.metrics`, one run in `bench.measure`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mcp_ollama.bench.measure import Measure, Measured, on_client
from mcp_ollama.bench.metrics import (
    BenchmarkResult,
    ComparisonResult,
    ModelOutcome,
    PromptResponse,
    RunFailure,
    RunMetrics,
    rank_models,
    summarize,
)
from mcp_ollama.bench.suite import (
    DEFAULT_MAX_TOKENS,
    MAX_MODELS,
    BenchmarkPlan,
    check_counts,
    check_models,
)
from mcp_ollama.deadline import pending
from mcp_ollama.errors import (
    GenerationInterruptedError,
    InvalidInputError,
    MalformedResponseError,
    MCPOllamaError,
    OllamaResponseError,
    OllamaTimeoutError,
)
from mcp_ollama.generation import ResolvedOptions
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import validate_model_name
from mcp_ollama.ollama.types import GenerateRequest
from mcp_ollama.progress import ProgressCallback

__all__ = ["BENCH_ADVICE", "Target", "compare_models", "compare_targets", "run_benchmark"]

MAX_FAILED_IN_A_ROW = 3
BENCH_ADVICE = "Pass a larger `timeout`, fewer `runs` or `prompts`, or a smaller `max_tokens`"

Resolver = Callable[[str], ResolvedOptions]
"""Resolves a model's options (explicit > preset > per-model defaults)."""


@dataclass(frozen=True)
class Target:
    """One model and how its runs are made; `host` names where they go when that is known up
    front (a pinned host)."""

    model: str
    measure: Measure
    host: str | None = None

    @property
    def label(self) -> str:
        """How reports name it: the model, or model@host."""
        return _label(self.model, self.host)


def _label(model: str, host: str | None) -> str:
    return f"{model}@{host}" if host else model


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

    def within(self) -> ProgressCallback | None:
        """A callback for what happens before the next run ends (an auto-pull): a share of that
        run's step, with its own message."""
        callback = self.callback
        if callback is None:
            return None

        last = float(self.done)

        async def report(progress: float, total: float | None, message: str | None) -> None:
            nonlocal last
            # A pull learns its total as it goes: the share may shrink, progress never does.
            last = max(last, self.done + (min(progress / total, 1.0) * 0.9 if total else 0.0))
            await callback(last, self.total, message)

        return report


def _repeats(exc: MCPOllamaError) -> bool:
    """Whether every later run of a target would fail the same way (the model is missing, the
    host is gone, the request is refused), rather than this run alone (a cut stream, a run over
    its time, a failure inside Ollama)."""
    if isinstance(exc, GenerationInterruptedError | OllamaTimeoutError | MalformedResponseError):
        return False
    if isinstance(exc, OllamaResponseError):
        return 400 <= exc.status_code < 500
    return True


class _Runs:
    """One target's runs: the measured ones, those that failed, and where they ran."""

    def __init__(self, target: Target, plan: BenchmarkPlan, progress: _Progress) -> None:
        self.target = target
        self.plan = plan
        self.progress = progress
        self.host = target.host
        self.measured: list[RunMetrics] = []
        self.responses: list[PromptResponse] = []
        self.failures: list[RunFailure] = []
        self.error: MCPOllamaError | None = None
        self._in_a_row = 0

    @property
    def label(self) -> str:
        return _label(self.target.model, self.host)

    async def run(
        self,
        request: GenerateRequest,
        timeout: float | None,
        prompt: str,
        index: int,
        *,
        warmup: bool,
    ) -> Measured | None:
        """One run, or None when it failed (recorded).

        Raises:
            MCPOllamaError: the run failed in a way every later one would too.
        """
        kind, of = ("warmup", self.plan.warmup) if warmup else ("run", self.plan.runs)
        step = f"measuring {self.label} (prompt '{prompt}', {kind} {index} of {of})"
        try:
            with pending(step, BENCH_ADVICE):
                measured = await self.target.measure(request, timeout, self.progress.within())
        except MCPOllamaError as exc:
            self.error = exc
            self.failures.append(RunFailure.of(prompt, index, exc, warmup=warmup))
            self._in_a_row += 1
            if _repeats(exc) or self._in_a_row >= MAX_FAILED_IN_A_ROW:
                raise
            await self.progress.step(f"{self.label}: {prompt}, {kind} {index}/{of} failed")
            return None
        self._in_a_row = 0
        self.host = measured.host or self.host
        detail = "" if warmup else f", {_fmt(measured.metrics.tokens_per_second)} tokens/s"
        await self.progress.step(f"{self.label}: {prompt}, {kind} {index}/{of}{detail}")
        return measured


async def _run_model(
    target: Target,
    plan: BenchmarkPlan,
    resolved: ResolvedOptions,
    progress: _Progress,
    keep_alive: str | float | None,
) -> ModelOutcome:
    """The target's outcome (naming the host it ran on).

    Raises:
        MCPOllamaError: no measured run finished (the last error).
    """
    options = dict(resolved.options)
    options.setdefault("num_predict", DEFAULT_MAX_TOKENS)
    runs = _Runs(target, plan, progress)
    try:
        for item in plan.prompts:
            request = GenerateRequest(
                model=target.model, prompt=item.prompt, options=options, keep_alive=keep_alive
            )
            for index in range(1, plan.warmup + 1):
                await runs.run(request, resolved.timeout, item.name, index, warmup=True)
            for index in range(1, plan.runs + 1):
                done = await runs.run(request, resolved.timeout, item.name, index, warmup=False)
                if done is None:
                    continue
                runs.measured.append(
                    done.metrics.model_copy(update={"prompt": item.name, "run": index})
                )
                if not any(r.prompt == item.name for r in runs.responses):
                    runs.responses.append(
                        PromptResponse(prompt=item.name, response=done.text, thinking=done.thinking)
                    )
    except MCPOllamaError:
        if not runs.measured:
            raise
        # Some runs finished: the report keeps them, and the failure ends the list.
    if not runs.measured:
        assert runs.error is not None  # every measured run failed, or there would be one
        raise runs.error
    return ModelOutcome(
        model=runs.label,
        host=runs.host,
        options=options,
        summary=summarize(runs.measured),
        metrics=runs.measured,
        responses=runs.responses,
        failures=runs.failures,
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def run_benchmark(
    target: Target,
    plan: BenchmarkPlan,
    resolve: Resolver,
    *,
    keep_alive: str | float | None = None,
    on_progress: ProgressCallback | None = None,
) -> BenchmarkResult:
    """Run the plan's prompts on one model, `warmup` unmeasured then `runs` measured times each;
    a failed run is recorded and the others go on.

    Raises:
        InvalidInputError: a bad model name, run count or option.
        MCPOllamaError: no measured run finished (nothing is reported then).
    """
    model = validate_model_name(target.model)
    check_counts(plan.runs, plan.warmup)
    resolved = resolve(model)
    created_at = _now()
    progress = _Progress(on_progress, plan.runs_per_model)
    outcome = await _run_model(target, plan, resolved, progress, keep_alive)
    return BenchmarkResult.of(
        model,
        outcome,
        created_at=created_at,
        preset=plan.preset,
        prompts=plan.prompts,
        runs=plan.runs,
        warmup=plan.warmup,
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
        MCPOllamaError: no model finished.
    """
    targets = [Target(name, on_client(client)) for name in check_models(models)]
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
        MCPOllamaError: no target finished (the error says why each failed).
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
    errors: list[tuple[str, MCPOllamaError]] = []
    for position, target in enumerate(targets, 1):
        try:
            outcome = await _run_model(target, plan, resolved[target.model], progress, keep_alive)
        except MCPOllamaError as exc:
            outcome = ModelOutcome.failure(target.label, exc).model_copy(
                update={"host": target.host}
            )
            errors.append((target.label, exc))
        await progress.skip_to(plan.runs_per_model * position)
        outcomes.append(outcome)
    if len(errors) == len(targets):
        raise _nothing_finished(errors)
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


def _nothing_finished(errors: Sequence[tuple[str, MCPOllamaError]]) -> MCPOllamaError:
    """The error of a comparison none of whose targets finished: their one error when they share
    it (the daemon is down), else each named."""
    first = errors[0][1]
    if all(str(exc) == str(first) for _, exc in errors):
        return first
    head = "no model finished, so nothing was saved."
    error = MCPOllamaError(" ".join([head, *(_sentence(label, str(exc)) for label, exc in errors)]))
    error.person = " ".join([head, *(_sentence(label, exc.for_person()) for label, exc in errors)])
    return error


def _sentence(label: str, message: str) -> str:
    """`label: message` as one sentence, ended by exactly one full stop."""
    message = message.strip()
    return f"{label}: {message}" + ("" if message.endswith((".", "!", "?")) else ".")
