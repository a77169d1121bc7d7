"""`python -m benchmarks`: run the benchmarks, print one table, write JSON.

    python -m benchmarks                 # every figure (a few minutes)
    python -m benchmarks --quick         # a smoke run of the same code with small counts
    python -m benchmarks soak latency    # only some of them
    python -m benchmarks --json out.json # write the JSON elsewhere

Exit status 0 when every figure that has a target meets it, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from benchmarks import economy, figures, fleet, hostile, soak
from benchmarks.harness import Figure

BENCHMARKS: dict[str, Callable[..., Any]] = {
    "latency": figures.added_latency,
    "cold_start": figures.cold_start,
    "concurrency": figures.concurrency,
    "streaming": figures.streaming,
    "memory": figures.memory,
    "cache": figures.cache,
    "tool_list": economy.tool_list_sizes,
    "answers": economy.answer_sizes,
    "model_list": economy.big_model_list,
    "soak": soak.soak,
    "hostile": hostile.hostile_peers,
    "routing": fleet.routing,
    "fleet": fleet.fleet_server,
}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def machine() -> dict[str, Any]:
    """Where the figures were taken: CPU model, cores, Python, OS."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def _value(figure: Figure) -> str:
    if figure.unit.startswith("/"):
        return f"{figure.value:g}{figure.unit}"
    text = f"{figure.value:.2f}" if isinstance(figure.value, float) else f"{figure.value}"
    return f"{text} {figure.unit}".strip()


def render(rows: Sequence[Figure]) -> str:
    """The results as a Markdown table: figure, value, target, PASS/FAIL."""
    table = [("figure", "value", "target", "result")]
    for row in rows:
        verdict = "-" if row.passed is None else ("PASS" if row.passed else "FAIL")
        table.append((row.name, _value(row), row.target, verdict))
    widths = [max(len(line[i]) for line in table) for i in range(4)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(table[0]), line(["-" * w for w in widths]), *map(line, table[1:])])


async def run(names: Sequence[str], *, quick: bool) -> list[Figure]:
    """Run the named benchmarks in order, reporting progress on stderr."""
    rows: list[Figure] = []
    for name in names:
        sys.stderr.write(f"running {name}{' (quick)' if quick else ''}...\n")
        started = time.perf_counter()
        bench = BENCHMARKS[name]
        if inspect.iscoroutinefunction(bench):
            rows += await bench(quick=quick)
        else:
            rows += await anyio.to_thread.run_sync(functools.partial(bench, quick=quick))
        sys.stderr.write(f"  {name} took {time.perf_counter() - started:.1f} s\n")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table on stdout, write the JSON; the exit status says if all passed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run the benchmarks.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    started = time.perf_counter()
    rows = anyio.run(lambda: run(names, quick=args.quick))
    table = render(rows)
    sys.stdout.write(table + "\n")
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "duration_s": round(time.perf_counter() - started, 1),
        "figures": [row.as_json() for row in rows],
        "table": table,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sys.stderr.write(f"wrote {args.json}\n")
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
