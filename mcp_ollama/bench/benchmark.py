"""Benchmarks and model comparisons, measured with Ollama's own counters.

Every run streams (`OllamaClient.stream_generate` under `aclosing`, so a cancellation closes the
request), which lets time to first token be measured here, on a monotonic clock, from the moment
the request is sent to the first chunk carrying text or thinking. Everything else comes from the
final chunk: generation tokens/s is `eval_count / eval_duration`, prompt-eval tokens/s is
`prompt_eval_count / prompt_eval_duration`, never characters per second. Warmup runs load the
model and are left out of every figure. Models run one at a time: concurrent runs on one GPU would
measure each other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_ollama.errors import InvalidInputError, MalformedResponseError, MCPOllamaError
from mcp_ollama.generation import ResolvedOptions, call_deadline
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.names import canonical_name, validate_model_name
from mcp_ollama.ollama.types import GenerateRequest
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import ns_to_ms, per_second

__all__ = [
    "BUILTIN_SUITE",
    "DEFAULT_MAX_TOKENS",
    "METRICS",
    "METRIC_LABELS",
    "BenchmarkPlan",
    "BenchmarkPrompt",
    "BenchmarkResult",
    "ComparisonResult",
    "MetricStats",
    "ModelOutcome",
    "PromptResponse",
    "RankEntry",
    "RunMetrics",
    "build_prompts",
    "check_counts",
    "compare_models",
    "metric_value",
    "percentile",
    "rank_models",
    "run_benchmark",
    "summarize",
]

DEFAULT_MAX_TOKENS = 256
"""num_predict when neither the caller, the preset nor the model's defaults set one: an uncapped
answer would make a run's length, and so the benchmark's duration, unbounded."""

MAX_RUNS = 20
MAX_WARMUP = 5
MAX_PROMPTS = 10
MAX_MODELS = 10

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

METRIC_LABELS: dict[str, str] = {
    "tokens_per_second": "generation tokens/s",
    "prompt_tokens_per_second": "prompt-eval tokens/s",
    "ttft_ms": "time to first token (ms)",
    "load_ms": "load time (ms)",
    "total_ms": "total duration (ms)",
    "wall_ms": "wall time (ms)",
    "output_tokens": "output tokens",
}

_LONG_PASSAGE = """\
The harbour town of Vell sits where a cold river meets a warm sea, and for three centuries its
fortunes rose and fell with the fish that followed the boundary between the two waters. The first
settlers built on the northern bank, because the southern one flooded every spring; their houses
stood on oak piles driven into the clay, and the oldest of them still lean toward the water.

In the early years the town traded salted herring for grain from the inland farms. A single road
ran up the valley, and in wet seasons it became impassable, so the merchants formed a guild that
paid for gravel, ditches and a toll house. The guild's ledgers survive: they record the price of a
barrel of fish, the wages of the road menders, and a long dispute about who should pay to repair
the bridge after the flood of the ninth year.

The bridge itself was rebuilt four times. The first was timber and lasted eleven years. The second
was timber on stone piers and lasted forty. The third, an arched stone bridge designed by an
engineer who had trained in the capital, collapsed during its opening ceremony when the centring
was removed too early; nobody died, but the engineer left town the same night. The fourth, built
by local masons who simply copied the proportions of the old piers, still carries traffic today.

When the railway arrived, the harbour changed. Fish could reach the capital in a day instead of a
week, and ice became more valuable than salt. An ice house was dug into the hillside behind the
church, lined with straw and sawdust, and filled each winter from the frozen millpond. Ice cutters
worked in teams of six, sawing blocks the size of a travelling chest and sliding them down a
wooden chute. The work was dangerous; the parish register lists two drownings in one winter.

The railway also brought visitors. A hotel opened on the southern bank, now protected by a levee,
and a promenade ran from the hotel to the lighthouse. Visitors came for the sea air, the bathing
machines and the evening concerts of the town band, which played from a cast-iron pavilion that
had been ordered from a catalogue and arrived in two hundred numbered pieces.

The fishing declined slowly and then all at once. Larger boats from other ports worked the banks
further out, the herring moved north, and within a decade the smokehouses closed. The town turned
to boat repair, then to tourism, and later to a small research station that studies the mixing of
fresh and salt water at the river mouth. Its instruments sit on the piers of the old bridge, and
its reports note that the boundary between the waters moves with the tides, the seasons and the
volume of the spring melt, much as the first settlers described it in their letters home.

Weather shaped the town as much as trade. Winter storms came from the north-east and drove the sea
up the river mouth, so the older streets run diagonally to the shore, giving the wind no straight
path. Shutters were painted red with iron oxide, because the paint was cheap and the colour hid
the rust that ran from the hinges. A storm in the ninety-first year tore the roof from the church
and carried its weather vane, a copper herring, three streets inland; it was found in a bakery
yard and returned to the spire with a second, smaller fish beside it to mark the event.

The school opened late and grew quickly. Before it, children learned their letters from the guild
clerks in exchange for sweeping the hall. The first schoolmaster insisted on teaching navigation
as well as arithmetic, arguing that a fishing town needed pilots more than copyists, and for forty
years Vell supplied mates and pilots to ships from ports far larger than itself. The school's
brass sextants, bought with money raised by a winter fair, are still used in lessons each spring.

Disease came twice. A fever in the early years killed one in nine of the settlers and led the
guild to dig a new well above the flood line, lined with stone from the old quarry. Cholera
arrived with the railway, in a hot summer when the river was low; a young doctor traced it to a
pump near the smokehouses and had the handle removed, against the protests of the owners. The
pump still stands in the square without its handle, and a plaque beside it gives the doctor's
name and the number of days it took the outbreak to end after the handle came off.

Politics in Vell were mostly arguments about water. The northern bank wanted the harbour dredged;
the southern bank wanted the levee raised; the farmers inland wanted the river left alone so that
their meadows flooded in spring and grew rich grass. Every council election turned on one of the
three, and the minutes record a meeting in which the mayor, a dredging man, was outvoted by a
coalition of hoteliers and dairy farmers who had never before agreed on anything at all.

The research station's first director was a former pilot who had studied at night. She began by
asking the older fishermen where the herring had run in their grandparents' day and mapped their
answers against the station's measurements of salinity and temperature. The map, drawn by hand on
a chart that covers one wall of the station's library, shows that the fish followed the boundary
between the waters exactly, and that the boundary has moved north by almost a mile in a century.

Today the guild hall is a museum. Its largest room holds the ledgers, a model of the third bridge
with its arches intact, a block of ice-house straw preserved under glass, and one of the pavilion's
numbered pieces, which was found in a garden wall during repairs and identified by its stamp."""

_SUITE = (
    ("short", "Explain in two sentences why the sky is blue."),
    (
        "long_context",
        f"{_LONG_PASSAGE}\n\nSummarise the history of Vell above in three bullet points, then "
        "name the one event you think changed the town most and say why.",
    ),
    (
        "code",
        "Write a Python function `merge_intervals(intervals: list[tuple[int, int]]) -> "
        "list[tuple[int, int]]` that merges overlapping closed intervals. Include a docstring, "
        "type hints and three doctest examples.",
    ),
)


class BenchmarkPrompt(BaseModel):
    """One prompt of a suite."""

    name: str = Field(description="short, long_context, code, or prompt1.. for the caller's")
    prompt: str


BUILTIN_SUITE: tuple[BenchmarkPrompt, ...] = tuple(
    BenchmarkPrompt(name=name, prompt=prompt) for name, prompt in _SUITE
)
"""The built-in suite: a short answer, a long-context summary and a coding task."""


class RunMetrics(BaseModel):
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


class MetricStats(BaseModel):
    """One metric aggregated over the measured runs."""

    mean: float
    median: float
    p95: float
    min: float
    max: float
    count: int = Field(description="Runs that reported this metric")


class PromptResponse(BaseModel):
    """A model's answer to one prompt (from its first measured run), for quality review."""

    prompt: str
    response: str
    thinking: str | None = None


class BenchmarkResult(BaseModel):
    """benchmark_model: per-run metrics and their aggregates for one model."""

    kind: Literal["benchmark"] = "benchmark"
    report_id: str | None = Field(None, description="Id of the saved report (reports://{id})")
    created_at: str = Field(description="When the benchmark started (UTC, ISO 8601)")
    model: str
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
    report_files: dict[str, str] = Field(
        default_factory=dict, description="Saved files: json, markdown"
    )


class ModelOutcome(BaseModel):
    """One model's part of a comparison; `ok` is false when it failed."""

    model: str
    ok: bool = True
    error: str | None = Field(None, description="Why the model failed, when it did")
    options: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, MetricStats] = Field(default_factory=dict)
    metrics: list[RunMetrics] = Field(default_factory=list)
    responses: list[PromptResponse] = Field(default_factory=list)


class RankEntry(BaseModel):
    """A model's place for one metric (by median)."""

    rank: int
    model: str
    value: float


class ComparisonResult(BaseModel):
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
    report_files: dict[str, str] = Field(
        default_factory=dict, description="Saved files: json, markdown, chart (SVG)"
    )


class BenchmarkPlan(BaseModel):
    """What to run: the prompts, how many times, and how to pick each model's options."""

    prompts: list[BenchmarkPrompt]
    runs: int = 3
    warmup: int = 1
    preset: str | None = None

    @property
    def runs_per_model(self) -> int:
        """Generations per model, warmups included."""
        return len(self.prompts) * (self.runs + self.warmup)


def build_prompts(prompts: Sequence[str] | None, *, max_chars: int) -> list[BenchmarkPrompt]:
    """The caller's prompts (named prompt1, prompt2, ...) or the built-in suite.

    Raises:
        InvalidInputError: too many prompts, an empty one, or one over the size limit.
    """
    if not prompts:
        return list(BUILTIN_SUITE)
    if len(prompts) > MAX_PROMPTS:
        raise InvalidInputError(f"{len(prompts)} prompts given; send at most {MAX_PROMPTS}")
    for index, text in enumerate(prompts, 1):
        if not text.strip():
            raise InvalidInputError(f"prompts[{index - 1}] is empty; every prompt needs text")
        if len(text) > max_chars:
            raise InvalidInputError(
                f"prompts[{index - 1}] is {len(text):,} characters, over the limit of "
                f"{max_chars:,}; shorten it"
            )
    return [BenchmarkPrompt(name=f"prompt{i}", prompt=text) for i, text in enumerate(prompts, 1)]


def check_counts(runs: int, warmup: int) -> None:
    """Refuse run counts outside the supported range.

    Raises:
        InvalidInputError: runs outside 1..20 or warmup outside 0..5.
    """
    if not 1 <= runs <= MAX_RUNS:
        raise InvalidInputError(f"runs must be from 1 to {MAX_RUNS}, not {runs}")
    if not 0 <= warmup <= MAX_WARMUP:
        raise InvalidInputError(f"warmup must be from 0 to {MAX_WARMUP}, not {warmup}")


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


Resolver = Callable[[str], ResolvedOptions]
"""Resolves a model's options (explicit > preset > per-model defaults)."""


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
) -> ModelOutcome:
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
            await progress.step(f"{model}: {item.name}, warmup {index + 1}/{plan.warmup}")
        for index in range(1, plan.runs + 1):
            metrics, text, thinking = await _measure(client, request, resolved.timeout)
            measured.append(metrics.model_copy(update={"prompt": item.name, "run": index}))
            if index == 1:
                responses.append(PromptResponse(prompt=item.name, response=text, thinking=thinking))
            await progress.step(
                f"{model}: {item.name}, run {index}/{plan.runs}, "
                f"{_fmt(metrics.tokens_per_second)} tokens/s"
            )
    return ModelOutcome(
        model=model,
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
    outcome = await _run_model(client, model, plan, resolved, progress, keep_alive)
    return BenchmarkResult(
        created_at=created_at,
        model=model,
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
    """Run the same plan on 2..N models one after another and rank them per metric.

    A model that fails (not pulled, daemon error, timeout) is reported with its error and the
    others still run.

    Raises:
        InvalidInputError: fewer than two distinct models, a bad name, run count or option.
    """
    names = _check_models(models)
    check_counts(plan.runs, plan.warmup)
    # Resolve every model's options first: a bad explicit option fails before any run.
    resolved = {name: resolve(name) for name in names}
    created_at = _now()
    progress = _Progress(on_progress, plan.runs_per_model * len(names))
    outcomes: list[ModelOutcome] = []
    for position, name in enumerate(names, 1):
        try:
            outcome = await _run_model(client, name, plan, resolved[name], progress, keep_alive)
        except MCPOllamaError as exc:
            outcome = ModelOutcome(model=name, ok=False, error=str(exc))
            await progress.skip_to(plan.runs_per_model * position)
        outcomes.append(outcome)
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


def _check_models(models: Sequence[str]) -> list[str]:
    names = [validate_model_name(m) for m in models]
    seen: dict[str, str] = {}
    for name in names:
        key = canonical_name(name)
        if key in seen:
            raise InvalidInputError(
                f"'{name}' is listed twice (as '{seen[key]}'); compare distinct models"
            )
        seen[key] = name
    if len(names) < 2:
        raise InvalidInputError(
            "compare_models needs at least two models; use benchmark_model for one"
        )
    if len(names) > MAX_MODELS:
        raise InvalidInputError(f"{len(names)} models given; compare at most {MAX_MODELS}")
    return names


def metric_value(summary: Mapping[str, MetricStats], metric: str) -> float | None:
    """The median of a metric, or None when no run reported it."""
    stats = summary.get(metric)
    return None if stats is None else stats.median
