"""MCP Apps: the benchmark report view that `benchmark_model` and `compare_models` point at.

A client that supports MCP Apps renders `ui://mcp-ollama/report.html` beside those tools' results
and hands it the result, which it draws as bar charts and tables (the same renderer as the saved
HTML reports). Other clients ignore the link and read the text result as before.
"""

from __future__ import annotations

from typing import Any

from mcp.server.apps import Apps

from mcp_ollama.bench.report_html import app_html

__all__ = ["REPORT_VIEW", "REPORT_VIEW_META", "report_view"]

REPORT_VIEW = "ui://mcp-ollama/report.html"
REPORT_VIEW_META: dict[str, Any] = {"ui": {"resourceUri": REPORT_VIEW}}
"""A tool's `_meta` linking it to the report view."""


def report_view() -> Apps:
    """The MCP Apps extension with the report view (pass it to `MCPServer(extensions=...)`)."""
    apps = Apps()
    apps.add_html_resource(
        REPORT_VIEW,
        app_html(),
        name="report_view",
        title="Benchmark report",
        description="Draws a benchmark_model or compare_models result as bar charts and tables",
    )
    return apps
