"""The HTML reports in a real browser (headless Chromium): the charts drawn, bar by bar, and a
screenshot that shows them; the MCP App view fed a real tool result by a stand-in host page."""

from __future__ import annotations

import html
import json
from pathlib import Path

import anyio.to_thread
import pytest
from mcp import Client

from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult, ModelOutcome
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.server import build_server
from mcp_ollama.server.apps import REPORT_VIEW
from mcp_ollama.settings import Settings
from tests.browser import app_host_page, charts_in, dump_dom, screenshot
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.test_cli_bench import run_cli
from tests.test_reports import benchmark, run

COLOURS = {"tokens_per_second": "#2f6fb0", "ttft_ms": "#d9822b", "load_ms": "#3a8f5c"}
BAR_AREA = 250  # the longest bar's width in the page's SVG units


def medians(report: dict[str, object], metric: str) -> list[float]:
    return [m["summary"][metric]["median"] for m in report["models"]]  # type: ignore[attr-defined, index]


def test_compare_prints_an_html_report_whose_screenshot_shows_one_bar_per_model(
    fake: FakeOllama, fake_ollama: FakeServerHandle, tmp_path: Path
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100, ttft=0.06)
    fake.add_model("quick:1b", tokens_per_second=400, ttft=0.01)
    done = run_cli(
        "compare", "slow:1b", "quick:1b", "--runs", "1", "--warmup", "0", "--max-tokens", "8",
        "--prompt", "Name a river.", url=fake_ollama.url, tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if "html: " in line]
    assert len(printed) == 1
    page = Path(printed[0])
    assert page.suffix == ".html"
    report = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))

    charts = charts_in(dump_dom(page, tmp_path / "profile"))
    assert set(charts) == set(COLOURS)
    for metric, chart in charts.items():
        assert [bar.label for bar in chart.bars] == ["slow:1b", "quick:1b"], metric
        assert [bar.value for bar in chart.bars] == medians(report, metric), metric
        longest = max(bar.value for bar in chart.bars)
        for bar in chart.bars:
            assert bar.width == pytest.approx(max(1, bar.value / longest * BAR_AREA), abs=0.1)
    quick, slow = charts["tokens_per_second"].bars[1], charts["tokens_per_second"].bars[0]
    assert quick.width == pytest.approx(4 * slow.width, rel=0.01)  # 400 vs 100 tokens/s

    image = screenshot(page, tmp_path / "profile")
    assert image.count("#ffffff") < image.width * image.height * 0.97, "the page is blank"
    for metric, colour in COLOURS.items():
        # Each chart's bars are solid rectangles of the chart's colour, 16 px high.
        assert image.count(colour) > 16 * 40, f"no {metric} bars on the screenshot"


def test_a_benchmark_page_draws_one_bar_per_prompt(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "data")
    saved = store.save_benchmark(_benchmark())
    page = Path(saved.report_files["html"])

    charts = charts_in(dump_dom(page, tmp_path / "profile"))
    tokens = charts["tokens_per_second"]
    assert "per prompt" in tokens.caption
    assert [(b.label, b.value) for b in tokens.bars] == [("short", 52.0), ("code", 30.0)]
    ttft = charts["ttft_ms"].bars
    assert [(b.label, b.value) for b in ttft] == [("short", 115.0), ("code", 90.0)]


def test_model_names_and_answers_stay_text_in_the_page(tmp_path: Path) -> None:
    hostile = '<img src=x onerror="document.title=1">'
    result = _comparison(hostile, answer="</script><script>document.title='owned'</script>")
    page = Path(ReportStore(tmp_path / "data").save_comparison(result).report_files["html"])

    dom = dump_dom(page, tmp_path / "profile")
    assert "<img" not in dom.split("<main", 1)[1].split("</main>", 1)[0]
    assert dom.split("<title>")[1].startswith("Model comparison: ")  # no script set it
    labels = [bar.label for bar in charts_in(dom)["tokens_per_second"].bars]
    assert labels == [hostile, "b:1b@gpu-2"]  # a row per model@host, the host named once


@pytest.mark.anyio
async def test_the_app_view_draws_the_tool_result_a_host_hands_it(
    settings: Settings, fake: FakeOllama, tmp_path: Path
) -> None:
    fake.add_model("slow:1b", tokens_per_second=100)
    fake.add_model("quick:1b", tokens_per_second=400)
    async with Client(build_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["compare_models"].meta == {"ui": {"resourceUri": REPORT_VIEW}}
        view = (await client.read_resource(REPORT_VIEW)).contents[0]
        arguments = {"models": ["slow:1b", "quick:1b"], "prompts": ["Hi."], "runs": 1}
        result = await client.call_tool("compare_models", arguments | {"max_tokens": 8})
    assert view.mime_type == "text/html;profile=mcp-app"
    host = tmp_path / "host.html"
    host.write_text(app_host_page(view.text, result.model_dump(mode="json", by_alias=True)))

    dom = await anyio.to_thread.run_sync(lambda: dump_dom(host, tmp_path / "profile", wait_ms=5000))
    seen = json.loads(html.unescape(dom.split('<pre id="seen">')[1].split("</pre>")[0]))
    assert seen["handshake"] == ["ui/initialize", "ui/notifications/initialized"]
    assert seen["bars"] == [["slow:1b", 100], ["quick:1b", 400]]


def _benchmark() -> BenchmarkResult:
    base = benchmark()
    code = [run(30.0, 90.0).model_copy(update={"prompt": "code", "run": i}) for i in (1, 2)]
    prompts = [*base.prompts, base.prompts[0].model_copy(update={"name": "code"})]
    return base.model_copy(update={"metrics": base.metrics + code, "prompts": prompts})


def _comparison(first: str, *, answer: str) -> ComparisonResult:
    base = benchmark()
    outcomes = [
        ModelOutcome(model=name, host=host, summary=base.summary, metrics=base.metrics,
                     responses=[base.responses[0].model_copy(update={"response": answer})])
        for name, host in ((first, None), ("b:1b@gpu-2", "gpu-2"))
    ]  # fmt: skip
    return ComparisonResult(
        created_at=base.created_at, models=outcomes, rankings={}, prompts=base.prompts,
        runs=2, warmup=1,
    )  # fmt: skip
