"""Benchmark and comparison reports as Markdown: tables people read on GitHub or in a terminal."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from mcp_ollama.bench.metrics import (
    METRIC_COLUMNS,
    METRIC_LABELS,
    METRICS,
    BenchmarkResult,
    ComparisonResult,
    MetricStats,
    PromptResponse,
    RunFailure,
    RunMetrics,
    metric_value,
)
from mcp_ollama.bench.suite import BenchmarkPrompt

__all__ = ["benchmark_markdown", "comparison_markdown", "number"]

RUN_COLUMNS = tuple(
    (metric, METRIC_COLUMNS[metric])
    for metric in ("ttft_ms", "tokens_per_second", "prompt_tokens_per_second", "load_ms",
                   "total_ms", "output_tokens", "wall_ms")
)  # fmt: skip
PROMPT_PREVIEW = 160


def number(value: float | None) -> str:
    """A table cell for a figure: thousands separators, one decimal, '-' when absent.

    >>> number(1234.567), number(None), number(12)
    ('1,234.6', '-', '12')
    """
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell.

    >>> cell('a|b\\nc')
    'a\\\\|b c'
    """
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fence(text: str) -> str:
    """A fenced block longer than any backtick run in `text`, so the answer cannot break out."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _header(title: str, report_id: str | None, created_at: str) -> list[str]:
    lines = [f"# {title}", ""]
    if report_id:
        lines.append(f"- Report: `{report_id}`")
    lines.append(f"- Started: {created_at}")
    return lines


def _plan(
    prompts: Sequence[BenchmarkPrompt], runs: int, warmup: int, preset: str | None
) -> list[str]:
    names = ", ".join(p.name for p in prompts)
    return [
        f"- Prompts: {names}; {runs} measured run(s) each after {warmup} warmup run(s)",
        f"- Preset: {preset or 'none'}",
    ]


def _summary_table(summary: dict[str, MetricStats]) -> list[str]:
    lines = ["| metric | mean | median | p95 | min | max |", "|---|---:|---:|---:|---:|---:|"]
    for metric in METRICS:
        stats = summary.get(metric)
        if stats is None:
            continue
        values = (stats.mean, stats.median, stats.p95, stats.min, stats.max)
        lines.append(f"| {METRIC_LABELS[metric]} | " + " | ".join(number(v) for v in values) + " |")
    return lines


def _runs_table(runs: Sequence[RunMetrics]) -> list[str]:
    header = "| prompt | run | " + " | ".join(label for _, label in RUN_COLUMNS) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(RUN_COLUMNS)]
    for run in runs:
        values = " | ".join(number(getattr(run, key)) for key, _ in RUN_COLUMNS)
        lines.append(f"| {cell(run.prompt)} | {run.run} | {values} |")
    return lines


def _failures(failures: Sequence[RunFailure], planned: int, measured: int) -> list[str]:
    """The runs that failed (the others went on), and how many planned runs were not made."""
    lines = [
        f"- {cell(f.prompt)}, {'warmup' if f.warmup else 'run'} {f.run}: {cell(f.error)}"
        for f in failures
    ]
    missing = planned - measured - sum(not f.warmup for f in failures)
    if missing > 0:
        lines.append(f"- {missing} planned run(s) not made after the last failure")
    return lines


def _prompt_preview(prompt: BenchmarkPrompt) -> str:
    text = " ".join(prompt.prompt.split())
    if len(text) > PROMPT_PREVIEW:
        text = text[: PROMPT_PREVIEW - 1] + "\u2026"
    return f"> {text}"


def _response_block(response: PromptResponse) -> list[str]:
    lines = []
    if response.thinking:
        lines += ["<details><summary>thinking</summary>", "", _fence(response.thinking), "",
                  "</details>", ""]  # fmt: skip
    return [*lines, _fence(response.response)]


def benchmark_markdown(result: BenchmarkResult) -> str:
    """A benchmark as Markdown: plan, summary table, every run, and the answers."""
    lines = _header(f"Benchmark: {result.label}", result.report_id, result.created_at)
    lines += _plan(result.prompts, result.runs, result.warmup, result.preset)
    lines += [f"- Options: `{json.dumps(result.options, sort_keys=True)}`", ""]
    lines += ["## Summary", "", *_summary_table(result.summary), ""]
    lines += ["## Runs", "", *_runs_table(result.metrics), ""]
    if result.failures:
        planned = len(result.prompts) * result.runs
        failed = _failures(result.failures, planned, len(result.metrics))
        lines += ["## Failed runs", "", "The other runs went on.", "", *failed, ""]
    lines += ["## Responses", ""]
    prompts = {p.name: p for p in result.prompts}
    for response in result.responses:
        lines += [f"### {response.prompt}", ""]
        if response.prompt in prompts:
            lines += [_prompt_preview(prompts[response.prompt]), ""]
        lines += [*_response_block(response), ""]
    lines += [_FOOTNOTE]
    return "\n".join(lines) + "\n"


_FOOTNOTE = (
    "_Tokens/s come from Ollama's counters (eval_count / eval_duration, prompt_eval_count / "
    "prompt_eval_duration); time to first token and wall time are measured by mcp-ollama from the "
    "moment the request is sent. Warmup runs are not counted._"
)

_SIDE_BY_SIDE = (
    "tokens_per_second",
    "prompt_tokens_per_second",
    "ttft_ms",
    "load_ms",
    "total_ms",
    "wall_ms",
    "output_tokens",
)


def comparison_markdown(result: ComparisonResult, *, chart_file: str | None = None) -> str:
    """A comparison as Markdown: the chart, medians side by side, rankings, failures, answers."""
    names = [o.model for o in result.models]
    lines = _header(f"Model comparison: {' vs '.join(names)}", result.report_id, result.created_at)
    lines += [*_plan(result.prompts, result.runs, result.warmup, result.preset), ""]
    if chart_file:
        lines += [
            f"![Generation tokens/s and time to first token per model]({chart_file})",
            "",
        ]
    lines += ["## Side by side (medians)", ""]
    lines.append("| model | status | " + " | ".join(METRIC_LABELS[m] for m in _SIDE_BY_SIDE) + " |")
    lines.append("|---|---|" + "---:|" * len(_SIDE_BY_SIDE))
    for outcome in result.models:
        status = "ok" if outcome.ok else "failed"
        values = " | ".join(number(metric_value(outcome.summary, m)) for m in _SIDE_BY_SIDE)
        lines.append(f"| {cell(outcome.model)} | {status} | {values} |")
    lines += ["", "## Rankings", ""]
    if result.rankings:
        lines += ["| metric | best first |", "|---|---|"]
        for metric, entries in result.rankings.items():
            order = ", ".join(f"{e.rank}. {cell(e.model)} ({number(e.value)})" for e in entries)
            lines.append(f"| {METRIC_LABELS[metric]} ({METRICS[metric]} is better) | {order} |")
    else:
        lines.append("No model finished, so nothing is ranked.")
    if result.failed:
        lines += ["", "## Failed", ""]
        lines += [f"- `{o.model}`: {cell(o.error or 'failed')}" for o in result.models if not o.ok]
    planned = len(result.prompts) * result.runs
    for outcome in (o for o in result.models if o.failures):
        failed = _failures(outcome.failures, planned, len(outcome.metrics))
        lines += ["", f"## Failed runs of {outcome.model}", "", *failed]
    lines += ["", "## Responses", ""]
    for prompt in result.prompts:
        lines += [f"### {prompt.name}", "", _prompt_preview(prompt), ""]
        for outcome in result.models:
            answer = next((r for r in outcome.responses if r.prompt == prompt.name), None)
            if answer is None:
                continue
            lines += [f"#### {outcome.model}", "", *_response_block(answer), ""]
    lines += [_FOOTNOTE]
    return "\n".join(lines) + "\n"
