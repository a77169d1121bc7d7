"""The HTML report page: saved beside the JSON and Markdown, self-contained, offered as
`reports://{id}/html`, and the MCP App view the benchmark tools point at."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.bench.report_html import CSP
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.server.apps import REPORT_VIEW
from tests.fake_ollama import FakeOllama
from tests.mcp_helpers import block_text
from tests.test_reports import benchmark, comparison

EMBEDDED = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def embedded_result(page: str) -> dict[str, object]:
    match = EMBEDDED.search(page)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_a_saved_comparison_has_an_html_page_beside_its_json_and_markdown(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "data")
    saved = store.save_comparison(comparison())
    assert saved.report_id is not None
    page = Path(saved.report_files["html"])
    assert page.parent == Path(saved.report_files["json"]).parent
    assert page.name == f"{saved.report_id}.html"
    assert store.get_html(saved.report_id) == page.read_text(encoding="utf-8")
    assert embedded_result(page.read_text(encoding="utf-8")) == saved.model_dump(mode="json")
    listed = store.list_reports().reports[0]
    assert listed.uris["html"] == f"reports://{saved.report_id}/html"


def test_the_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    saved = ReportStore(tmp_path / "data").save_benchmark(benchmark())
    page = Path(saved.report_files["html"]).read_text(encoding="utf-8")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "default-src 'none'" in CSP
    outside_the_data = EMBEDDED.sub("", page).replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"\b(src|href)\s*=", outside_the_data)
    assert not re.search(r"https?://", outside_the_data)


def test_a_report_saved_before_pages_existed_is_drawn_on_demand(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "data")
    saved = store.save_benchmark(benchmark())
    assert saved.report_id is not None
    Path(saved.report_files["html"]).unlink()
    assert embedded_result(store.get_html(saved.report_id))["model"] == "llama3.2:1b"


def test_old_reports_lose_their_page_with_the_rest_when_pruned(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "data", retention=1)
    first = store.save_benchmark(benchmark(created_at="2026-01-01T09:00:00+00:00"))
    store.save_benchmark(benchmark(created_at="2026-01-01T10:00:00+00:00"))
    assert not any(Path(path).exists() for path in first.report_files.values())


@pytest.mark.anyio
async def test_the_benchmark_tools_point_at_the_report_view_and_the_page_is_a_resource(
    mcp_client: Client, fake: FakeOllama
) -> None:
    if mcp_client.protocol_version == "2026-07-28":  # the handshake era has no extensions field
        extensions = mcp_client.server_capabilities.extensions
        assert extensions is not None
        assert "io.modelcontextprotocol/ui" in extensions
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    for name in ("benchmark_model", "compare_models"):
        assert tools[name].meta == {"ui": {"resourceUri": REPORT_VIEW}}
    view = (await mcp_client.read_resource(REPORT_VIEW)).contents[0]
    assert view.mime_type == "text/html;profile=mcp-app"
    assert "ui/initialize" in block_text(view)
    assert 'id="report-data"' not in block_text(view)

    result = await mcp_client.call_tool(
        "benchmark_model", {"model": "llama3.2:1b", "prompts": ["Hi."], "runs": 1, "warmup": 0}
    )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    assert data["environment"]["ollama"] == fake.version
    page = (await mcp_client.read_resource(f"reports://{data['report_id']}/html")).contents[0]
    assert page.mime_type == "text/html"
    assert embedded_result(block_text(page))["report_id"] == data["report_id"]
