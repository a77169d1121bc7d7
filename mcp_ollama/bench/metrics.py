"""What a benchmark measured: per-run metrics, their aggregates, the results and the rankings.

Owns the result models (`RunMetrics`, `MetricStats`, `BenchmarkResult`, `ComparisonResult`, ...),
the metric table (`METRICS`, `METRIC_LABELS`) and the pure statistics over them (`percentile`,
`summarize`, `rank_models`, `metric_value`, `across_hosts`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from mcp_ollama.bench.suite import BenchmarkPrompt
from mcp_ollama.errors import MCPOllamaError
from mcp_ollama.results import FLEET_ONLY, Result

__all__ = [
    "METRICS",
    "METRIC_COLUMNS",
    "METRIC_LABELS",
    "BenchmarkResult",
    "ComparisonResult",
    "MetricStats",
    "ModelOutcome",
    "PromptResponse",
    "RankEntry",
    "RunFailure",
    "RunMetrics",
    "across_hosts",
    "metric_value",
    "percentile",
    "rank_models",
    "summarize",
]

Better = Literal["higher", "lower"]

METRICS: dict[str, Better | None] = {
    "tokens_per_second": "higher",
    "prompt_tokens_per_second": "higher",
    "ttft_ms": "lower",
    "load_ms": "lower",
    "total_ms": "lower",
    "wall_ms": "lower",
    "output_tokens": None,
}
"""Every aggregated metric and which direction is better (None: not ranked)."""

METRIC_COLUMNS: dict[str, str] = {
    "tokens_per_second": "gen tok/s",
    "prompt_tokens_per_second": "prompt tok/s",
    "ttft_ms": "TTFT ms",
    "load_ms": "load ms",
    "total_ms": "total ms",
    "wall_ms": "wall ms",
    "output_tokens": "output tokens",
}
"""The one short label of each metric, wherever it heads a column or a row."""

METRIC_LABELS: dict[str, str] = {
    "tokens_per_second": "generation tokens/s",
    "prompt_tokens_per_second": "prompt-eval tokens/s",
    "ttft_ms": "time to first token (ms)",
    "load_ms": "load time (ms)",
    "total_ms": "total duration (ms)",
    "wall_ms": "wall time (ms)",
    "output_tokens": "output tokens",
}


class RunMetrics(Result):
    """One measured run of one prompt."""

    prompt: str = Field(description="The prompt's name")
    run: int = Field(description="1-based run number for this prompt")
    load_ms: float | None = Field(None, description="load_duration: loading the model")
    ttft_ms: float | None = Field(
        None, description="Time to first token, measured client-side from request start"
    )
    prompt_tokens_per_second: float | None = Field(
        None, description="prompt_eval_count / prompt_eval_duration"
    )
    tokens_per_second: float | None = Field(None, description="eval_count / eval_duration")
    total_ms: float | None = Field(None, description="total_duration, as Ollama measured it")
    output_tokens: int = Field(0, description="eval_count")
    prompt_tokens: int = Field(0, description="prompt_eval_count")
    wall_ms: float = Field(description="Request start to the final chunk, client-side")
    done_reason: str | None = None


class RunFailure(Result):
    """A run that failed; the runs after it went on."""

    prompt: str = Field(description="The prompt's name")
    run: int = Field(description="1-based run number for this prompt (of its kind)")
    warmup: bool = Field(False, description="A warmup run")
    error: str
    # The error worded for a person (`mcp-ollama bench`); neither sent nor saved.
    _person_error: str | None = PrivateAttr(None)

    @classmethod
    def of(cls, prompt: str, run: int, exc: MCPOllamaError, *, warmup: bool) -> RunFailure:
        """Run `run` of `prompt` that failed with `exc`."""
        failure = cls(prompt=prompt, run=run, warmup=warmup, error=str(exc))
        failure._person_error = exc.for_person()
        return failure

    @property
    def error_for_person(self) -> str:
        """Why the run failed, worded for a person at a terminal."""
        return self._person_error or self.error


class MetricStats(Result):
    """One metric aggregated over the measured runs."""

    mean: float
    median: float
    p95: float
    min: float
    max: float
    count: int = Field(description="Runs that reported this metric")


class PromptResponse(Result):
    """A model's answer to one prompt (from its first measured run), for quality review."""

    prompt: str
    response: str
    thinking: str | None = None


class ModelOutcome(Result):
    """One model's part of a comparison (model@host with several hosts); `ok` is false when it
    failed."""

    model: str
    host: str | None = Field(
        None, description="The host it ran on (several hosts only)", json_schema_extra=FLEET_ONLY
    )
    ok: bool = True
    error: str | None = Field(None, description="Why the model failed, when it did")
    options: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, MetricStats] = Field(default_factory=dict)
    metrics: list[RunMetrics] = Field(default_factory=list)
    responses: list[PromptResponse] = Field(default_factory=list)
    failures: list[RunFailure] = Field(
        default_factory=list, description="Runs that failed (the others went on)"
    )
    # The error worded for a person (`mcp-ollama compare`); neither sent nor saved.
    _person_error: str | None = PrivateAttr(None)

    @classmethod
    def failure(cls, model: str, exc: MCPOllamaError) -> ModelOutcome:
        """A model that failed with `exc`."""
        outcome = cls(model=model, ok=False, error=str(exc))
        outcome._person_error = exc.for_person()
        return outcome

    @property
    def error_for_person(self) -> str | None:
        """Why the model failed, worded for a person at a terminal."""
        return self._person_error or self.error


class RankEntry(Result):
    """A model's place for one metric (by median)."""

    rank: int
    model: str
    value: float


class BenchmarkResult(Result):
    """benchmark_model: per-run metrics and their aggregates for one model."""

    kind: Literal["benchmark"] = "benchmark"
    report_id: str | None = Field(None, description="Id of the saved report (reports://{id})")
    created_at: str = Field(description="When the benchmark started (UTC, ISO 8601)")
    model: str
    host: str | None = Field(
        None, description="The host it ran on (several hosts only)", json_schema_extra=FLEET_ONLY
    )
    preset: str | None = None
    options: dict[str, Any] = Field(description="The options every run was sent")
    prompts: list[BenchmarkPrompt]
    runs: int = Field(description="Measured runs per prompt")
    warmup: int = Field(description="Unmeasured warmup runs per prompt")
    summary: dict[str, MetricStats] = Field(
        description="Aggregates over all measured runs: mean, median, p95, min, max"
    )
    metrics: list[RunMetrics] = Field(description="Every measured run")
    responses: list[PromptResponse]
    failures: list[RunFailure] = Field(
        default_factory=list, description="Runs that failed (the others went on)"
    )
    hosts: list[ModelOutcome] | None = Field(
        None,
        description="With `hosts`: the model on each host (model@host), fastest first; the "
        "figures above are the fastest host's, and the report is a comparison",
        json_schema_extra=FLEET_ONLY,
    )
    rankings: dict[str, list[RankEntry]] | None = Field(
        None,
        description="With `hosts`: per metric, the hosts best first (by median)",
        json_schema_extra=FLEET_ONLY,
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Where it ran: versions, host, OS, CPUs"
    )
    report_files: dict[str, str] = Field(
        default_factory=dict, description="Saved files: json, markdown, html"
    )

    @classmethod
    def of(
        cls,
        model: str,
        outcome: ModelOutcome,
        *,
        created_at: str,
        preset: str | None,
        prompts: list[BenchmarkPrompt],
        runs: int,
        warmup: int,
    ) -> BenchmarkResult:
        """The benchmark of one model's outcome (on the host it names) under a plan."""
        return cls(
            created_at=created_at,
            model=model,
            host=outcome.host,
            preset=preset,
            options=outcome.options,
            prompts=prompts,
            runs=runs,
            warmup=warmup,
            summary=outcome.summary,
            metrics=outcome.metrics,
            responses=outcome.responses,
            failures=outcome.failures,
        )

    @property
    def label(self) -> str:
        """How reports name what ran: the model, or model@host."""
        return f"{self.model}@{self.host}" if self.host else self.model


class ComparisonResult(Result):
    """compare_models: the same suite on several models, side by side, with rankings."""

    kind: Literal["comparison"] = "comparison"
    report_id: str | None = Field(None, description="Id of the saved report (reports://{id})")
    created_at: str
    models: list[ModelOutcome]
    rankings: dict[str, list[RankEntry]] = Field(
        description="Per metric, the successful models best first (by median; tokens/s higher "
        "is better, times lower is better)"
    )
    failed: list[str] = Field(default_factory=list, description="Models that failed")
    preset: str | None = None
    prompts: list[BenchmarkPrompt]
    runs: int
    warmup: int
    environment: dict[str, str] = Field(
        default_factory=dict, description="Where it ran: versions, host, OS, CPUs"
    )
    report_files: dict[str, str] = Field(
        default_factory=dict, description="Saved files: json, markdown, chart (SVG), html"
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of a non-empty sequence (numpy's default method).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([10.0], 0.95)
    (2.5, 10.0)
    >>> round(percentile(list(map(float, range(1, 21))), 0.95), 2)
    19.05
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(runs: Sequence[RunMetrics]) -> dict[str, MetricStats]:
    """Mean, median, p95, min and max of each metric over the runs that reported it.

    >>> r = [RunMetrics(prompt='p', run=i, wall_ms=w, tokens_per_second=t)
    ...      for i, (w, t) in enumerate([(100.0, 50.0), (300.0, None)], 1)]
    >>> s = summarize(r)
    >>> s['wall_ms'].mean, s['wall_ms'].median, s['tokens_per_second'].count, 'ttft_ms' in s
    (200.0, 200.0, 1, False)
    """
    summary: dict[str, MetricStats] = {}
    for metric in METRICS:
        values = [float(v) for run in runs if (v := getattr(run, metric)) is not None]
        if not values:
            continue
        summary[metric] = MetricStats(
            mean=round(sum(values) / len(values), 3),
            median=round(percentile(values, 0.5), 3),
            p95=round(percentile(values, 0.95), 3),
            min=round(min(values), 3),
            max=round(max(values), 3),
            count=len(values),
        )
    return summary


def rank_models(outcomes: Sequence[ModelOutcome]) -> dict[str, list[RankEntry]]:
    """For each ranked metric, the successful models best first, by median.

    >>> fast = ModelOutcome(model='a', summary={'ttft_ms': MetricStats(
    ...     mean=1, median=1, p95=1, min=1, max=1, count=1)})
    >>> slow = ModelOutcome(model='b', summary={'ttft_ms': MetricStats(
    ...     mean=9, median=9, p95=9, min=9, max=9, count=1)})
    >>> [e.model for e in rank_models([slow, fast])['ttft_ms']]
    ['a', 'b']
    """
    rankings: dict[str, list[RankEntry]] = {}
    for metric, better in METRICS.items():
        if better is None:
            continue
        scored = [(o.summary[metric].median, o.model) for o in outcomes if metric in o.summary]
        if not scored:
            continue
        scored.sort(key=lambda item: -item[0] if better == "higher" else item[0])
        rankings[metric] = [
            RankEntry(rank=i, model=model, value=value)
            for i, (value, model) in enumerate(scored, 1)
        ]
    return rankings


def metric_value(summary: Mapping[str, MetricStats], metric: str) -> float | None:
    """The median of a metric, or None when no run reported it."""
    stats = summary.get(metric)
    return None if stats is None else stats.median


def across_hosts(model: str, comparison: ComparisonResult) -> BenchmarkResult:
    """One model's benchmark on several hosts, from the comparison that ran it there: the
    fastest host's figures, and every host's summary, fastest first."""
    ranked = [e.model for e in comparison.rankings.get("tokens_per_second", [])]
    order = {label: i for i, label in enumerate(ranked)}
    hosts = sorted(comparison.models, key=lambda o: (not o.ok, order.get(o.model, len(order))))
    result = BenchmarkResult.of(
        model,
        hosts[0],
        created_at=comparison.created_at,
        preset=comparison.preset,
        prompts=comparison.prompts,
        runs=comparison.runs,
        warmup=comparison.warmup,
    )
    return result.model_copy(
        update={
            # The other figures are in the saved comparison: each host's summary is enough here.
            "hosts": [o.model_copy(update={"metrics": [], "responses": []}) for o in hosts],
            "rankings": comparison.rankings,
            "environment": comparison.environment,
            "report_id": comparison.report_id,
            "report_files": comparison.report_files,
        }
    )
