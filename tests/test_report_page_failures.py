"""The report page and the MCP App view in headless Chromium: failed runs are shown (with their
model in a comparison), and a benchmark on several hosts draws every host, fastest first."""

from __future__ import annotations

import html
import json
from pathlib import Path

import anyio.to_thread
import pytest
from mcp import Client

from mcp_ollama.bench.metrics import RunFailure
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.server import build_server
from mcp_ollama.server.apps import REPORT_VIEW
from tests.browser import app_host_page, dump_dom
from tests.fleet_helpers import fake_fleet
from tests.mcp_helpers import ok
from tests.test_reports import benchmark, comparison

FAILURE = RunFailure(prompt="short", run=2, error="Ollama returned an error (HTTP 500): boom")


def main_of(dom: str) -> str:
    return html.unescape(dom.split("<main", 1)[1].split("</main>", 1)[0])


def test_a_benchmark_page_lists_its_failed_runs(tmp_path: Path) -> None:
    result = benchmark().model_copy(update={"failures": [FAILURE]})
    page = Path(ReportStore(tmp_path / "data").save_benchmark(result).report_files["html"])

    shown = main_of(dump_dom(page, tmp_path / "profile"))

    assert "Failed runs" in shown
    assert '<tr class="failed"><td>short</td><td>run 2</td>' in shown
    assert FAILURE.error in shown


def test_a_comparison_page_names_the_model_of_each_failed_run(tmp_path: Path) -> None:
    result = comparison()
    quick = result.models[0].model_copy(update={"failures": [FAILURE]})
    result = result.model_copy(update={"models": [quick, *result.models[1:]]})
    page = Path(ReportStore(tmp_path / "data").save_comparison(result).report_files["html"])

    shown = main_of(dump_dom(page, tmp_path / "profile"))

    assert '<tr class="failed"><td>quick:1b</td><td>short</td><td>run 2</td>' in shown
    assert FAILURE.error in shown


@pytest.mark.anyio
async def test_the_app_view_of_a_benchmark_on_several_hosts_draws_every_host_fastest_first(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        fleet.fake("gpu").tokens_per_second = 400.0
        fleet.fake("laptop").tokens_per_second = 100.0
        arguments = {"model": "llama3.2:1b", "hosts": ["laptop", "gpu"], "prompts": ["Hi."]}
        async with Client(build_server(fleet.settings)) as client:
            view = (await client.read_resource(REPORT_VIEW)).contents[0]
            result = await client.call_tool(
                "benchmark_model", arguments | {"runs": 1, "warmup": 0, "max_tokens": 8}
            )
    assert [h["model"] for h in ok(result)["hosts"]] == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    host = tmp_path / "host.html"
    host.write_text(app_host_page(view.text, result.model_dump(mode="json", by_alias=True)))

    dom = await anyio.to_thread.run_sync(lambda: dump_dom(host, tmp_path / "profile", wait_ms=5000))

    seen = json.loads(html.unescape(dom.split('<pre id="seen">')[1].split("</pre>")[0]))
    assert [label for label, _ in seen["bars"]] == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    assert seen["bars"][0][1] > seen["bars"][1][1]
