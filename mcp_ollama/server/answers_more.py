"""Text renderers for benchmarks, reports, sessions, batches, skills, usage, presets and config
(the rest of `answers.py`'s registry)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from mcp_ollama.bench.metrics import (
    BenchmarkResult,
    ComparisonResult,
    MetricStats,
    ModelOutcome,
    RunFailure,
    RunMetrics,
    percentile,
)
from mcp_ollama.bench.reports import ReportList
from mcp_ollama.conversations.sessions import SessionDetail, SessionList
from mcp_ollama.conversations.usage import UsageReport
from mcp_ollama.generation.batch import BatchResult
from mcp_ollama.generation.presets_config import ConfigCheck
from mcp_ollama.generation.skills import SkillList
from mcp_ollama.results import FileRead, Usage, human_bytes
from mcp_ollama.server.render import join, number, table
from mcp_ollama.server.tool_results import ConfigExport, ConfigImport, PresetList, ReportContent

__all__ = ["RENDERERS", "files_read"]

# The columns of a benchmark or comparison table (medians over the measured runs), with the
# decimals each is worth.
COLUMNS = (
    ("tokens_per_second", "gen tok/s", 0),
    ("prompt_tokens_per_second", "prompt tok/s", 0),
    ("ttft_ms", "TTFT ms", 1),
    ("load_ms", "load ms", 1),
    ("total_ms", "total ms", 1),
)
HEADERS = [label for _, label, _ in COLUMNS]


def _medians(summary: dict[str, MetricStats]) -> list[str]:
    return [
        number(s.median if (s := summary.get(key)) else None, digits) for key, _, digits in COLUMNS
    ]


def _prompt_medians(runs: Sequence[RunMetrics], prompt: str) -> list[str]:
    cells = []
    for key, _, digits in COLUMNS:
        values = [
            float(v) for r in runs if r.prompt == prompt and (v := getattr(r, key)) is not None
        ]
        cells.append(number(percentile(values, 0.5) if values else None, digits))
    return cells


def _report_line(report_id: str | None, what: str) -> str:
    if not report_id:
        return "(not saved)"
    return f"report {report_id}: {what} in reports://{report_id}/markdown"


def _failed_runs(failures: Sequence[RunFailure], limit: int = 3) -> list[str]:
    """One line per distinct error of the runs that failed (the others went on)."""
    by_error: dict[str, list[str]] = {}
    for f in failures:
        kind = "warmup" if f.warmup else "run"
        by_error.setdefault(f.error, []).append(f"{f.prompt} {kind} {f.run}")
    lines = [f"failed ({', '.join(runs)}): {error}" for error, runs in by_error.items()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"({len(lines) - limit} more errors in the report)"]
    return lines


def benchmark(result: BenchmarkResult) -> str:
    """A table of medians per prompt and overall (per host with `hosts`), the runs that
    failed, and where the full report is."""
    plan = f"{result.runs} run(s) per prompt after {result.warmup} warmup"
    if result.hosts:
        return _across_hosts(result, plan)
    rows = [[p.name, *_prompt_medians(result.metrics, p.name)] for p in result.prompts]
    rows.append(["all", *_medians(result.summary)])
    return "\n".join(
        [
            f"{result.label}, {plan} (medians):",
            table(["prompt", *HEADERS], rows),
            *_failed_runs(result.failures),
            _report_line(result.report_id, "every run and the answers"),
        ]
    )


def _across_hosts(result: BenchmarkResult, plan: str) -> str:
    hosts = result.hosts or []
    rows = [_outcome_row(o) for o in hosts]
    lines = [f"{result.model} on {len(hosts)} hosts, {plan} (medians), fastest first:"]
    lines.append(table(["host", *HEADERS], rows))
    lines += [f"{o.model}: {line}" for o in hosts for line in _failed_runs(o.failures, 1)]
    lines.append(_report_line(result.report_id, "every host's runs and answers"))
    return "\n".join(lines)


def _outcome_row(outcome: ModelOutcome) -> list[str]:
    return (
        [outcome.model, *_medians(outcome.summary)]
        if outcome.ok
        else [outcome.model, f"failed: {outcome.error}"]
    )


def comparison(result: ComparisonResult) -> str:
    """A table of medians per model, the winners, failures, and where the answers are."""
    lines = [
        f"{len(result.models)} models, {result.runs} run(s) per prompt after {result.warmup} "
        f"warmup, {len(result.prompts)} prompts (medians):",
        table(["model", *HEADERS], [_outcome_row(m) for m in result.models]),
    ]
    best = [
        f"{label}: {ranking[0].model}"
        for key, label, _ in COLUMNS
        if (ranking := result.rankings.get(key)) and len(ranking) > 1
    ]
    if best:
        lines.append(f"best {'; '.join(best)}")
    lines += [f"{m.model}: {line}" for m in result.models for line in _failed_runs(m.failures, 1)]
    lines.append(_report_line(result.report_id, "the answers side by side"))
    return "\n".join(lines)


def reports(result: ReportList) -> str:
    """One line per saved report."""
    if not result.reports:
        return "No saved reports: benchmark_model and compare_models save one."
    lines = [f"{r.id} {r.kind} {', '.join(r.models)} {r.created_at}" for r in result.reports]
    if result.total > len(result.reports):
        lines.append(f"({len(result.reports)} of {result.total}; raise `limit` for more)")
    return "\n".join(lines)


def report(result: ReportContent) -> str:
    """The report itself."""
    return result.content


def sessions(result: SessionList) -> str:
    """One line per session."""
    if not result.sessions:
        return "No stored sessions: chat with session_id='new' starts one."
    return "\n".join(
        f"{s.session_id} {s.model} {s.message_count} messages, updated {s.updated_at}"
        + (f": {s.title}" if s.title else "")
        for s in result.sessions
    )


def session(result: SessionDetail) -> str:
    """The conversation: a header line, the summary of compacted turns, every message."""
    lines = [
        f"{result.session_id} {result.model}: {result.message_count} messages "
        f"({result.active_messages} active, ~{result.token_estimate} tokens)"
    ]
    if result.system:
        lines.append(f"system: {result.system}")
    if result.summary:
        lines.append(f"summary of compacted turns: {result.summary}")
    lines += [f"{m.role}: {m.content}" for m in result.messages]
    return "\n".join(lines)


def files_read(files: list[FileRead] | None, usage: Usage | None = None) -> str | None:
    """What the server read into the prompt: how many files, how big, and how many prompt
    tokens the model processed (the paths are in structured content)."""
    if not files:
        return None
    images = sum(1 for f in files if f.image)
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    size = human_bytes(sum(f.bytes for f in files))
    pictures = f", {images} as image{'s' if images != 1 else ''}" if images else ""
    prompt = f", {usage.prompt_tokens:,} prompt tokens" if usage and usage.prompt_tokens else ""
    return f"read {count} ({size}{pictures}){prompt}"


def batch(result: BatchResult) -> str:
    """A summary line, then each answer (or error) under its index."""
    head = join(
        [
            f"{len(result.items)} prompts on {result.model}: {result.succeeded} ok",
            f"{result.failed} failed",
            f"{result.output_tokens} output tokens",
            files_read(result.files),
        ]
    )
    items = [
        f"[{item.index}] {item.text if item.ok else f'error: {item.error}'}"
        for item in result.items
    ]
    return "\n\n".join([head, *items])


def skills(result: SkillList) -> str:
    """One line per skill."""
    if not result.skills:
        return f"No skills: add Markdown files to {result.skills_dir}."
    return "\n".join(
        join(
            [
                f"{s.name}: {s.description}" if s.description else s.name,
                "(built-in)" if s.builtin else None,
            ],
            " ",
        )
        for s in result.skills
    )


def usage(result: UsageReport) -> str:
    """A table of calls, errors, tokens and time per model, with the total."""
    if not result.models:
        return "No calls recorded yet."
    named = [*((m.model, m) for m in result.models), ("total", result.total)]
    rows = [
        [name, str(m.calls), str(m.errors), number(m.prompt_tokens), number(m.output_tokens),
         number(m.duration_ms / 1000)]
        for name, m in named
    ]  # fmt: skip
    headers = ["model", "calls", "errors", "prompt tokens", "output tokens", "time s"]
    return table(headers, rows) + "\n(cost is always 0: local models)"


def presets(result: PresetList) -> str:
    """One line per preset with its options."""
    lines = [
        join([f"{p.name}: {json.dumps(p.options, sort_keys=True)}", p.description], " ")
        for p in result.presets
    ]
    return "\n".join([*lines, f"precedence: {result.precedence}"])


def config_check(result: ConfigCheck) -> str:
    """Valid (and what it defines) or the problems, one per line."""
    if not result.valid:
        return "\n".join(["Invalid configuration:", *(f"- {p}" for p in result.problems)])
    defines = join(
        [
            f"presets {', '.join(result.presets)}" if result.presets else None,
            f"defaults for {', '.join(result.models)}" if result.models else None,
            f"settings {', '.join(result.settings)}" if result.settings else None,
        ],
        "; ",
    )
    return f"Valid configuration{f': {defines}' if defines else ''}."


def config_export(result: ConfigExport) -> str:
    """Where the copy is, and the TOML to keep."""
    return (
        f"Saved as {result.config_id} ({result.path}); add this to {result.config_file} to keep "
        f"it:\n{result.toml}"
    )


def config_import(result: ConfigImport) -> str:
    """What changed."""
    return result.message


RENDERERS: dict[type[BaseModel], Callable[[Any], str]] = {
    BenchmarkResult: benchmark,
    ComparisonResult: comparison,
    ReportList: reports,
    ReportContent: report,
    SessionList: sessions,
    SessionDetail: session,
    BatchResult: batch,
    SkillList: skills,
    UsageReport: usage,
    PresetList: presets,
    ConfigCheck: config_check,
    ConfigExport: config_export,
    ConfigImport: config_import,
}
