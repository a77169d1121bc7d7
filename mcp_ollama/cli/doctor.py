"""`mcp-ollama doctor`: a health report for humans (or `--json`), exit status 1 when unhealthy.

This is not the MCP server, so stdout is free for the report.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import anyio

from mcp_ollama.settings import Settings, default_config_file

if TYPE_CHECKING:
    # Imported by the command itself: every `mcp-ollama` start, the server's too, builds its parser.
    from mcp_ollama.fleet.health import HealthReport

__all__ = ["register", "render"]


def register(commands: Any) -> None:
    """Add the `doctor` command to the `mcp-ollama` subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "doctor",
        help="check Ollama, the `ollama` binary, the default model and the data directory",
        description="Check that mcp-ollama can work here; exits 1 when something needs fixing.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report; 0 when healthy, 1 otherwise."""
    report = anyio.run(_report, settings)
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render(report))
    sys.stdout.flush()
    return 0 if report.healthy else 1


async def _report(settings: Settings) -> HealthReport:
    from mcp_ollama.fleet.health import check_health
    from mcp_ollama.fleet.registry import Fleet

    fleet = Fleet.from_settings(settings)
    try:
        return await check_health(settings, fleet, for_person=True)
    finally:
        await fleet.aclose()


def render(report: HealthReport) -> str:
    """The report as aligned text lines."""
    if report.hosts:
        daemons = [
            (
                f"host {h.name}",
                ("ok", f"{h.url} answers (Ollama {h.version})")
                if h.reachable
                else ("FAIL", h.error or f"{h.url} does not answer"),
            )
            for h in report.hosts
        ]
    elif report.daemon_reachable:
        daemons = [
            ("daemon", ("ok", f"{report.daemon_url} answers (Ollama {report.daemon_version})"))
        ]
    else:
        daemons = [
            ("daemon", ("FAIL", report.daemon_error or f"{report.daemon_url} does not answer"))
        ]
    binary = (
        ("ok", report.binary_path or "")
        if report.binary_found
        else ("warn", f"not found ({report.settings.get('ollama_bin')})")
    )
    if report.default_model is None:
        model = ("--", "none configured (MCP_OLLAMA_DEFAULT_MODEL)")
    elif report.default_model_present is None:
        model = ("?", f"{report.default_model}: unknown while Ollama is down")
    elif report.default_model_present:
        model = ("ok", f"{report.default_model} is installed")
    else:
        model = ("FAIL", f"{report.default_model} is not installed")
    data = ("ok" if report.data_dir_writable else "FAIL", report.data_dir)
    config = (
        ("ok", report.config_file)
        if report.config_file
        else ("--", f"none ({default_config_file()} does not exist): defaults and environment")
    )
    rows = [
        *daemons,
        ("ollama binary", binary),
        ("default model", model),
        ("data directory", data),
        ("config file", config),
    ]
    lines = ["mcp-ollama doctor", ""]
    lines += [f"  [{mark:>4}] {name:<15} {text}" for name, (mark, text) in rows]
    lines += ["", f"MCP tools ({len(report.tools)}): {', '.join(report.tools)}"]
    lines += ["", "Effective settings (secrets redacted):"]
    lines += [f"  {key} = {json.dumps(value)}" for key, value in sorted(report.settings.items())]
    lines.append("")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    if report.healthy:
        lines.append("Healthy.")
    else:
        lines.append(f"Unhealthy: {len(report.problems)} problem(s) to fix:")
        lines += [f"  - {problem}" for problem in report.problems]
    return "\n".join(lines) + "\n"
