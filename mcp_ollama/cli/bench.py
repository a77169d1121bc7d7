"""`mcp-ollama bench MODEL` and `mcp-ollama compare MODEL MODEL...`: benchmarks for people.

They use the core directly (no MCP): a progress bar on stderr, a results table on stdout, and the
same saved reports the MCP tools write (JSON, Markdown and, for comparisons, an SVG chart).
Exit codes: 0 done, 1 a failure (for `compare`: any model failed; its report is still saved),
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from mcp_ollama.cli.terminal import ProgressBar, terminal
from mcp_ollama.errors import InvalidInputError, MCPOllamaError
from mcp_ollama.settings import Settings

if TYPE_CHECKING:
    from mcp_ollama.bench.metrics import (
        BenchmarkResult,
        ComparisonResult,
        ModelOutcome,
        RankEntry,
        RunFailure,
    )
    from mcp_ollama.service import OllamaService

# The service and benchmark modules are imported inside the commands that use them: every
# `mcp-ollama` start builds this parser, and `serve` (an IDE spawns it often) never needs them.

__all__ = ["format_table", "register"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned.

    >>> print(format_table(['model', 'tok/s'], [['a', '1.0'], ['bb', '12.5']]))
    model  tok/s
    -----  -----
    a        1.0
    bb      12.5
    """
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def benchmark_table(result: BenchmarkResult) -> str:
    """A benchmark's aggregates: one row per metric, labelled as `compare` labels its columns."""
    from mcp_ollama.bench.metrics import METRIC_COLUMNS
    from mcp_ollama.bench.report_markdown import number

    rows = []
    for metric, label in METRIC_COLUMNS.items():
        stats = result.summary.get(metric)
        if stats is not None:
            values = (stats.mean, stats.median, stats.p95, stats.min, stats.max)
            rows.append([label, *(number(v) for v in values)])
    return format_table(["metric", "mean", "median", "p95", "min", "max"], rows)


_COMPARE_COLUMNS = ("tokens_per_second", "prompt_tokens_per_second", "ttft_ms", "load_ms",
                    "total_ms", "output_tokens")  # fmt: skip


def comparison_table(result: ComparisonResult) -> str:
    """A comparison: one row per model (medians), then each metric's models, best first."""
    return _outcomes_table(result.models, result.rankings)


def _outcomes_table(outcomes: Sequence[ModelOutcome], rankings: dict[str, list[RankEntry]]) -> str:
    from mcp_ollama.bench.metrics import METRIC_COLUMNS, metric_value
    from mcp_ollama.bench.report_markdown import number

    rows = [
        [o.model, "ok" if o.ok else "FAILED"]
        + [number(metric_value(o.summary, m)) for m in _COMPARE_COLUMNS]
        for o in outcomes
    ]
    table = format_table(["model", "status", *(METRIC_COLUMNS[m] for m in _COMPARE_COLUMNS)], rows)
    lines = [table, ""]
    for metric, entries in rankings.items():
        order = ", ".join(f"{e.model} ({number(e.value)})" for e in entries)
        lines.append(f"{METRIC_COLUMNS[metric]}, best first: {order}")
    lines += [f"{o.model} failed: {o.error_for_person}" for o in outcomes if not o.ok]
    lines += [_failed_run(o.model, f) for o in outcomes for f in o.failures]
    return "\n".join(lines)


def _failed_run(name: str, failure: RunFailure) -> str:
    kind = "warmup" if failure.warmup else "run"
    return f"{name}: {failure.prompt} {kind} {failure.run} failed: {failure.error_for_person}"


def _files(files: dict[str, str]) -> str:
    return "\n".join(f"  {kind}: {path}" for kind, path in files.items())


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        return key.strip(), raw


def _add_common(parser: argparse.ArgumentParser, runs: int) -> None:
    add = parser.add_argument
    add("--runs", type=int, default=runs, help=f"measured runs per prompt (default {runs})")
    add("--warmup", type=int, default=1, help="unmeasured runs per prompt first (default 1)")
    add("--preset", help="a preset: fast, creative, balanced, precise, long_form or your own")
    add("--prompt", action="append", dest="prompts", metavar="TEXT",
        help="your own prompt (repeatable); default: the built-in suite")  # fmt: skip
    add("--option", action="append", dest="options", type=_parse_option, metavar="KEY=VALUE",
        help="an Ollama option, e.g. num_ctx=8192 (repeatable)")  # fmt: skip
    add("--max-tokens", type=int, help="output tokens per run (default: the preset's, else 256)")
    add("--no-save", dest="save", action="store_false", help="do not save a report")


def register(commands: Any) -> None:
    """Add the `bench` and `compare` commands to the CLI's subparsers."""
    bench = commands.add_parser("bench", help="benchmark one model and save a report")
    bench.add_argument("model", help="an installed model, e.g. llama3.2:1b")
    bench.add_argument(
        "--host",
        action="append",
        dest="hosts",
        metavar="NAME",
        help="the host to run it on (with several hosts); repeat it to rank the machines",
    )
    _add_common(bench, runs=3)
    bench.set_defaults(handler=_handler(_bench))
    compare = commands.add_parser("compare", help="compare models side by side, save a report")
    compare.add_argument("models", nargs="+", metavar="MODEL", help="two or more models")
    compare.add_argument(
        "--host",
        action="append",
        dest="hosts",
        metavar="NAME",
        help="run each model on this host (repeatable): one model on two hosts ranks the machines",
    )
    _add_common(compare, runs=2)
    compare.set_defaults(handler=_handler(_compare))


Command = Callable[["OllamaService", argparse.Namespace, ProgressBar], Any]


def _handler(command: Command) -> Callable[[argparse.Namespace, Settings], int]:
    def handle(args: argparse.Namespace, settings: Settings) -> int:
        bar = ProgressBar(terminal())
        try:
            code: int = anyio.run(_run, command, args, settings, bar)
        except MCPOllamaError as exc:
            bar.terminal.write(f"mcp-ollama {args.command}: {exc.for_person()}\n")
            return 1
        except KeyboardInterrupt:
            bar.terminal.write(f"mcp-ollama {args.command}: interrupted; nothing was saved\n")
            return 130
        finally:
            bar.finish()
        return code

    return handle


async def _run(
    command: Command, args: argparse.Namespace, settings: Settings, bar: ProgressBar
) -> int:
    from mcp_ollama.service import OllamaService

    service = OllamaService(settings)
    try:
        if service.fleet.single:  # with several hosts, a run goes to one that answers
            await service.fleet.primary.daemon.ensure_running()
        code: int = await command(service, args, bar)
    finally:
        await service.aclose()
        await service.fleet.stop()
    return code


def _common(args: argparse.Namespace, bar: ProgressBar) -> dict[str, Any]:
    options = dict(args.options or [])
    return {
        "prompts": args.prompts,
        "runs": args.runs,
        "warmup": args.warmup,
        "preset": args.preset,
        "options": options or None,
        "max_tokens": args.max_tokens,
        "save_report": args.save,
        "on_progress": bar,
    }


async def _bench(service: OllamaService, args: argparse.Namespace, bar: ProgressBar) -> int:
    hosts = args.hosts or []
    pins = {"host": hosts[0]} if len(hosts) == 1 else {"hosts": hosts or None}
    result = await service.bench.benchmark(args.model, **pins, **_common(args, bar))
    bar.finish()
    out = sys.stdout
    plan = f"{len(result.prompts)} prompt(s) x {result.runs} run(s) after {result.warmup} warmup"
    if result.hosts:
        table = _outcomes_table(result.hosts, result.rankings or {})
        out.write(f"Benchmark of {result.model} on {len(result.hosts)} hosts: {plan} (medians)")
        out.write(f"\n\n{table}\n")
    else:
        failed = "".join(f"{_failed_run(result.label, f)}\n" for f in result.failures)
        out.write(f"Benchmark of {result.label}: {plan}\n\n{benchmark_table(result)}\n{failed}")
    if result.report_id:
        out.write(f"\nReport {result.report_id} saved:\n{_files(result.report_files)}\n")
    return 0


async def _compare(service: OllamaService, args: argparse.Namespace, bar: ProgressBar) -> int:
    if len(args.models) * len(args.hosts or [None]) < 2:
        raise InvalidInputError(
            "compare needs at least two models, or one model and two --host; use `bench` for one"
        )
    result = await service.bench.compare(args.models, hosts=args.hosts, **_common(args, bar))
    bar.finish()
    out = sys.stdout
    out.write(f"Comparison: {len(result.prompts)} prompt(s) x {result.runs} run(s) per model ")
    out.write(f"after {result.warmup} warmup (medians)\n\n{comparison_table(result)}\n")
    if result.report_id:
        out.write(f"\nReport {result.report_id} saved:\n{_files(result.report_files)}\n")
    return 1 if result.failed else 0
