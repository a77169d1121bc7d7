"""Benchmarks and comparisons go through the same resilience as generation: auto-start, busy
retries, auto-pull, routing and failover; a failed run is recorded and the others go on; a
comparison in which nothing finished is an error and saves nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from mcp_ollama.errors import MCPOllamaError, OllamaResponseError
from mcp_ollama.server import build_server
from mcp_ollama.service import OllamaService
from tests.conftest import FakeCLI
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.fleet_helpers import fake_fleet
from tests.mcp_helpers import error_text, free_port, ok
from tests.resilience_helpers import make_settings, service_for

pytestmark = pytest.mark.anyio

QUICK = {"prompts": ["Count to three"], "runs": 3, "warmup": 0, "max_tokens": 8}
BOUND = 30


def saved_reports(service: OllamaService) -> int:
    return service.reports.list_reports().total


async def test_a_comparison_with_ollama_down_is_an_error_and_saves_nothing(
    tmp_path: Path,
) -> None:
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, cli_fallback=False)
    async with Client(build_server(settings), mode="legacy") as client:
        with anyio.fail_after(BOUND):
            result = await client.call_tool(
                "compare_models", {"models": ["llama3.2:1b", "qwen3:0.6b"], **QUICK}
            )
            listed = ok(await client.call_tool("list_reports", {}))

    assert "cannot connect to Ollama" in error_text(result)
    assert listed["reports"] == []


async def test_a_comparison_whose_models_all_fail_names_each_in_a_sentence_and_saves_nothing(
    service: OllamaService,
) -> None:
    with pytest.raises(MCPOllamaError) as caught:
        await service.bench.compare(["missing:1b", "absent:2b"], **QUICK)

    message = str(caught.value)
    assert message.startswith("no model finished, so nothing was saved. missing:1b: model ")
    assert "missing:1b: model 'missing:1b' is not pulled" in message
    assert ". absent:2b: model 'absent:2b' is not pulled" in message
    assert ".;" not in message
    assert ".." not in message
    assert message.endswith(".")
    assert saved_reports(service) == 0


async def test_one_failed_run_is_recorded_and_the_benchmark_goes_on(
    fake: FakeOllama, service: OllamaService
) -> None:
    fake.set_fault("http_500", count=1, paths={"/api/generate"})

    result = await service.bench.benchmark("llama3.2:1b", **QUICK)

    assert [(f.prompt, f.run) for f in result.failures] == [("prompt1", 1)]
    assert "HTTP 500" in result.failures[0].error
    assert [m.run for m in result.metrics] == [2, 3]
    assert result.report_id is not None
    markdown = Path(result.report_files["markdown"]).read_text(encoding="utf-8")
    assert "## Failed runs" in markdown
    assert "- prompt1, run 1: Ollama returned an error (HTTP 500)" in markdown


async def test_a_run_cut_mid_stream_is_recorded_as_cut_and_never_as_ollama_not_running(
    fake: FakeOllama, service: OllamaService
) -> None:
    fake.set_fault("drop_mid_stream", count=1, paths={"/api/generate"})

    result = await service.bench.benchmark("llama3.2:1b", **QUICK)

    (failure,) = result.failures
    assert "the generation was interrupted after" in failure.error
    assert "closed the connection before the response was complete" in failure.error
    assert "is Ollama running" not in failure.error
    assert len(result.metrics) == 2
    assert len(fake.requests_to("/api/generate")) == 3  # the cut run was not repeated


async def test_a_model_failing_every_run_stops_after_three_in_a_row_and_is_an_error(
    fake: FakeOllama, service: OllamaService
) -> None:
    fake.set_fault("http_500", paths={"/api/generate"})

    with pytest.raises(OllamaResponseError, match="HTTP 500"):
        await service.bench.benchmark("llama3.2:1b", **{**QUICK, "runs": 5})

    assert len(fake.requests_to("/api/generate")) == 3
    assert saved_reports(service) == 0


async def test_a_benchmark_starts_a_stopped_daemon_first(fake_cli: FakeCLI, tmp_path: Path) -> None:
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, auto_start=True)
    async with service_for(settings) as service:
        with anyio.fail_after(BOUND):
            result = await service.bench.benchmark("llama3.2:1b", **QUICK)

    assert len(result.metrics) == 3
    assert fake_cli.commands() == ["serve"]


async def test_a_benchmark_waits_out_a_busy_daemon_instead_of_failing_runs(
    fake: FakeOllama, service: OllamaService
) -> None:
    fake.set_fault("http_503", count=2, paths={"/api/generate"})

    result = await service.bench.benchmark("llama3.2:1b", **QUICK)

    assert result.failures == []
    assert len(result.metrics) == 3
    assert len(fake.requests_to("/api/generate")) == 5


async def test_a_benchmark_pulls_a_missing_model_first_when_auto_pull_is_on(
    fake_ollama: FakeServerHandle, fake: FakeOllama, tmp_path: Path
) -> None:
    settings = make_settings(fake_ollama.url, tmp_path, auto_pull=True, cli_fallback=False)
    async with service_for(settings) as service:
        result = await service.bench.benchmark("tinyllama", **QUICK)

    assert len(result.metrics) == 3
    paths = [r.path for r in fake.requests if r.path in ("/api/pull", "/api/generate")]
    assert paths[:3] == ["/api/generate", "/api/pull", "/api/generate"]


async def test_a_benchmark_moves_to_another_host_when_the_one_routing_chose_is_down(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        for name in ("gpu", "laptop"):  # loaded on both: routing takes gpu first
            fleet.fake(name).load_model("llama3.2:1b")
        async with service_for(fleet.settings) as service:
            await service.models.list_models()  # both catalogues are cached, gpu's included
            fleet.handles["gpu"].stop()

            result = await service.bench.benchmark("llama3.2:1b", **QUICK)

        assert result.host == "laptop"
        assert len(result.metrics) == 3
        assert fleet.spread() == {"gpu": 0, "laptop": 3}


async def test_runs_follow_the_first_one_and_a_host_lost_midway_keeps_what_it_measured(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        fleet.fake("gpu").load_model("llama3.2:1b")  # routing sends the first run to gpu
        gpu = fleet.handles["gpu"]
        async with service_for(fleet.settings) as service:

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                if value == 1:  # gpu goes away after the first run: the rest stay on gpu
                    await anyio.to_thread.run_sync(gpu.stop)

            result = await service.bench.benchmark("llama3.2:1b", on_progress=on_progress, **QUICK)

        assert result.host == "gpu"
        assert len(result.metrics) == 1
        (failure,) = result.failures
        assert "cannot connect to Ollama" in failure.error
        assert fleet.spread()["laptop"] == 0  # one machine's figures, never mixed with another's
        assert result.report_id is not None
