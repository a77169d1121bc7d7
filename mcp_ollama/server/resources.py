"""Resources for presets and saved reports.

```
presets://all                    every preset (JSON)
presets://{name}                 one preset (JSON)
reports://list                   saved reports, newest first (JSON)
reports://{report_id}            one report (JSON)
reports://{report_id}/markdown   the same as Markdown tables
reports://{report_id}/chart      a comparison's SVG chart
reports://{report_id}/html       the report as a self-contained HTML page (charts, tables)
outputs://{output_id}            a generation saved with save_output (Markdown)
```

The static resources take no request context (the SDK gives them none), so the preset book and
the report store are the server's own objects, shared with every connection's service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from mcp_ollama.bench.outputs import newest_outputs, read_output
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.errors import (
    InvalidInputError,
    PresetNotFoundError,
    ReportNotFoundError,
    StorageError,
)
from mcp_ollama.generation.options import PresetBook
from mcp_ollama.server._common import AppState
from mcp_ollama.server.completions import completion_registry

__all__ = ["OUTPUT_TEMPLATE", "PRESET_TEMPLATE", "REPORT_TEMPLATES", "register_resources"]

PRESET_TEMPLATE = "presets://{name}"
REPORT_TEMPLATE = "reports://{report_id}"
REPORT_MARKDOWN_TEMPLATE = "reports://{report_id}/markdown"
REPORT_CHART_TEMPLATE = "reports://{report_id}/chart"
REPORT_HTML_TEMPLATE = "reports://{report_id}/html"
OUTPUT_TEMPLATE = "outputs://{output_id}"
REPORT_TEMPLATES = (
    REPORT_TEMPLATE,
    REPORT_MARKDOWN_TEMPLATE,
    REPORT_CHART_TEMPLATE,
    REPORT_HTML_TEMPLATE,
)


async def _read(fn: Callable[[str], str], report_id: str) -> str:
    """Read from the store off the event loop, with its errors as resource errors."""
    try:
        return await anyio.to_thread.run_sync(fn, report_id)
    except (ReportNotFoundError, InvalidInputError) as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except StorageError as exc:
        raise ResourceError(str(exc)) from exc


def register_resources(mcp: MCPServer[Any], *, presets: PresetBook, reports: ReportStore) -> None:
    """Register the preset and report resources and their argument completions."""

    @mcp.resource(
        "presets://all",
        name="presets",
        title="Generation presets",
        mime_type="application/json",
        description="Every preset (built-in and from configuration) with its options and timeout",
    )
    def all_presets() -> str:
        """Every preset as JSON."""
        items = [p.model_dump(mode="json") for p in presets.presets.values()]
        return _json({"presets": items})

    @mcp.resource(
        PRESET_TEMPLATE,
        name="preset",
        title="Preset",
        mime_type="application/json",
        description="One generation preset: options, timeout, description",
    )
    def preset(name: str) -> str:
        """One preset as JSON."""
        try:
            return presets.get(name).model_dump_json(exclude_none=True)
        except PresetNotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc

    @mcp.resource(
        "reports://list",
        name="reports",
        title="Saved reports",
        mime_type="application/json",
        description="Saved benchmark and comparison reports, newest first, with their URIs",
    )
    async def report_list() -> str:
        """The saved reports as JSON."""
        listing = await anyio.to_thread.run_sync(reports.list_reports)
        return listing.model_dump_json(exclude_none=True)

    @mcp.resource(
        REPORT_TEMPLATE,
        name="report",
        title="Report (JSON)",
        mime_type="application/json",
        description="A saved benchmark or comparison report as JSON",
    )
    async def report_json(report_id: str) -> str:
        """A report's JSON, compact (the file on disk is indented for people)."""
        return _json(json.loads(await _read(reports.get_json_text, report_id)))

    @mcp.resource(
        REPORT_MARKDOWN_TEMPLATE,
        name="report_markdown",
        title="Report (Markdown)",
        mime_type="text/markdown",
        description="A saved benchmark or comparison report as Markdown tables",
    )
    async def report_markdown(report_id: str) -> str:
        """A report's Markdown."""
        return await _read(reports.get_markdown, report_id)

    @mcp.resource(
        REPORT_CHART_TEMPLATE,
        name="report_chart",
        title="Comparison chart (SVG)",
        mime_type="image/svg+xml",
        description="A comparison's bar chart: generation tokens/s and time to first token",
    )
    async def report_chart(report_id: str) -> str:
        """A comparison's SVG chart."""
        return await _read(reports.get_chart, report_id)

    @mcp.resource(
        REPORT_HTML_TEMPLATE,
        name="report_html",
        title="Report (HTML page)",
        mime_type="text/html",
        description="A saved report as a self-contained HTML page: bar charts and tables",
    )
    async def report_page(report_id: str) -> str:
        """A report's HTML page."""
        return await _read(reports.get_html, report_id)

    @mcp.resource(
        OUTPUT_TEMPLATE,
        name="output",
        title="Saved output (Markdown)",
        mime_type="text/markdown",
        description="A generate_text or chat answer saved with save_output",
    )
    async def saved_output(output_id: str) -> str:
        """A saved output's Markdown."""
        return await _read(lambda key: read_output(reports, key), output_id)

    registry = completion_registry(mcp)
    registry.add("resource", "name", _complete_presets, ref=PRESET_TEMPLATE)
    for template in REPORT_TEMPLATES:
        registry.add("resource", "report_id", _complete_reports, ref=template)
    registry.add("resource", "output_id", _complete_outputs, ref=OUTPUT_TEMPLATE)


def _json(data: Any) -> str:
    """JSON without whitespace: every character is paid for by whoever reads it."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def _complete_presets(state: AppState, _partial: str, _args: Mapping[str, str]) -> list[str]:
    return list(state.service.presets.presets)


async def _complete_reports(state: AppState, _partial: str, _args: Mapping[str, str]) -> list[str]:
    return await anyio.to_thread.run_sync(state.service.reports.report_ids)


async def _complete_outputs(state: AppState, _partial: str, _args: Mapping[str, str]) -> list[str]:
    return await anyio.to_thread.run_sync(newest_outputs, state.service.reports, 100)
