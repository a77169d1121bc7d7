"""Benchmark and comparison reports as one self-contained HTML page each.

The page carries its stylesheet, its scripts (`report.js` draws, `report_app.js` feeds it) and the
result itself (as JSON in a
`<script type="application/json">` block); the script draws the bar charts (inline SVG) and the
tables from that JSON. Nothing loads from the network: the page sets a Content-Security-Policy
that forbids it. The same page without data is the MCP App view (`app_html`): it asks its host
for the tool result instead, so both are drawn by one renderer.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib.resources import files

from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult

__all__ = ["app_html", "report_html", "report_title"]

# No network at all: inline styles and scripts only, images only as data: URIs.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
# Characters that could end the JSON's <script> block or confuse an HTML parser, as JSON escapes.
_JSON_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@cache
def _asset(name: str) -> str:
    return (files("mcp_ollama.bench") / "report_page" / name).read_text(encoding="utf-8")


def report_title(result: BenchmarkResult | ComparisonResult) -> str:
    """The heading a report is shown under.

    >>> report_title(ComparisonResult(created_at='', models=[], rankings={}, prompts=[],
    ...     runs=1, warmup=0))
    'Model comparison: '
    """
    if isinstance(result, ComparisonResult):
        return "Model comparison: " + " vs ".join(o.model for o in result.models)
    return f"Benchmark: {result.label}"


def _page(title: str, data: str | None) -> str:
    embedded = (
        ""
        if data is None
        else f'<script type="application/json" id="report-data">{data}</script>\n'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n"
        f'<main id="report"><noscript>This report draws its charts with JavaScript; the same '
        "figures are in the Markdown report beside it.</noscript></main>\n"
        f"{embedded}<script>\n{_asset('report.js')}</script>\n"
        f"<script>\n{_asset('report_app.js')}</script>\n</body>\n</html>\n"
    )


def report_html(result: BenchmarkResult | ComparisonResult) -> str:
    """A saved report as a standalone HTML page: charts, per-prompt tables, the environment.

    >>> page = report_html(ComparisonResult(created_at='', models=[], rankings={}, prompts=[],
    ...     runs=1, warmup=0, preset='</script>'))
    >>> page.count('</script>') == 3 and '\\\\u003c/script\\\\u003e' in page
    True
    """
    data = json.dumps(result.model_dump(mode="json"), ensure_ascii=False).translate(_JSON_ESCAPES)
    return _page(report_title(result), data)


def app_html() -> str:
    """The MCP App view: the report page without data; the host sends it the tool result."""
    return _page("mcp-ollama benchmark report", None)
