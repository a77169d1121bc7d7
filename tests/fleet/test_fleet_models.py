"""Several hosts, through the core: running models per host, pulls to one host or all, copy,
delete and unload on the host(s) they name, benchmarks pinned to a host and comparisons that rank
the machines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mcp_ollama.errors import InvalidInputError, ModelNotFoundError
from mcp_ollama.service import OllamaService
from tests.fleet_helpers import FakeFleet, fake_fleet
from tests.mcp_helpers import ProgressLog

pytestmark = pytest.mark.anyio


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    with fake_fleet(tmp_path, allow_destructive=True) as value:
        yield value


@pytest.fixture
async def service(fleet: FakeFleet) -> AsyncIterator[OllamaService]:
    service = OllamaService(fleet.settings)
    yield service
    await service.aclose()


async def test_running_models_name_their_host_and_a_silent_host(
    service: OllamaService, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").load_model("qwen3:0.6b")
    fleet.fake("laptop").load_model("gemma3:270m")
    fleet.handles["nas"].stop()

    running = await service.models.running_models()

    assert sorted((m.name, m.host) for m in running.models) == [
        ("gemma3:270m", "laptop"),
        ("qwen3:0.6b", "gpu"),
    ]
    assert running.unreachable is not None
    assert list(running.unreachable) == ["nas"]
    only = await service.models.running_models(host="laptop")
    assert [m.host for m in only.models] == ["laptop"]


async def test_a_pull_goes_to_every_host_for_all_and_reports_one_growing_progress(
    service: OllamaService, fleet: FakeFleet
) -> None:
    progress = ProgressLog()

    result = await service.models.pull("tinyllama", host="all", on_progress=progress)

    assert result.hosts == ["gpu", "laptop", "nas"]
    assert result.status == "success"
    assert all(fleet.fake(name).get_model("tinyllama") for name in fleet.handles)
    assert progress.values == sorted(progress.values)
    listed = await service.models.list_models()
    tiny = next(m for m in listed.models if m.name == "tinyllama:latest")
    assert tiny.hosts == ["gpu", "laptop", "nas"]


async def test_a_pull_goes_to_the_host_named_or_else_the_least_loaded_one(
    service: OllamaService, fleet: FakeFleet
) -> None:
    named = await service.models.pull("tinyllama", host="nas")
    assert named.hosts == ["nas"]
    assert fleet.spread("/api/pull") == {"gpu": 0, "laptop": 0, "nas": 1}

    fleet.handles["gpu"].stop()
    await service.models.list_models()  # finds gpu down
    anywhere = await service.models.pull("gemma3:270m")
    assert anywhere.hosts is not None
    assert anywhere.hosts[0] in {"laptop", "nas"}


async def test_an_unknown_host_is_refused_naming_the_hosts(service: OllamaService) -> None:
    with pytest.raises(InvalidInputError, match="the hosts are: gpu, laptop, nas"):
        await service.models.pull("tinyllama", host="desktop")


async def test_delete_needs_a_host_when_several_have_the_model(
    service: OllamaService, fleet: FakeFleet
) -> None:
    with pytest.raises(InvalidInputError, match=r"on several hosts \(gpu, laptop\)"):
        await service.models.delete("llama3.2:1b")

    done = await service.models.delete("llama3.2:1b", host="laptop")

    assert done.message == "deleted 'llama3.2:1b' on laptop"
    assert fleet.fake("laptop").get_model("llama3.2:1b") is None
    assert fleet.fake("gpu").get_model("llama3.2:1b") is not None


async def test_copy_and_delete_go_to_the_only_host_that_has_the_model(
    service: OllamaService, fleet: FakeFleet
) -> None:
    copied = await service.models.copy("gemma3:270m", "gemma-copy")
    assert copied.message == "copied 'gemma3:270m' to 'gemma-copy' on laptop"
    assert fleet.fake("laptop").get_model("gemma-copy") is not None

    await service.models.delete("gemma-copy")
    assert fleet.fake("laptop").get_model("gemma-copy") is None
    with pytest.raises(ModelNotFoundError, match="is not on any host"):
        await service.models.delete("gemma-copy")


async def test_unload_without_a_host_unloads_everywhere_the_model_is(
    service: OllamaService, fleet: FakeFleet
) -> None:
    for name in ("gpu", "laptop"):
        fleet.fake(name).load_model("llama3.2:1b")

    done = await service.models.unload("llama3.2:1b")

    assert done.message == "unloaded 'llama3.2:1b' from memory on gpu, laptop"
    assert fleet.fake("gpu").loaded_models() == []
    assert fleet.fake("laptop").loaded_models() == []


async def test_show_model_asks_the_host_named(service: OllamaService, fleet: FakeFleet) -> None:
    info = await service.models.show_model("qwen3:0.6b", host="nas")

    assert info.host == "nas"
    assert fleet.spread("/api/show")["nas"] >= 1
    with pytest.raises(ModelNotFoundError, match="not on host 'laptop'"):
        await service.models.show_model("qwen3:0.6b", host="laptop")


async def test_a_comparison_across_hosts_ranks_the_machines_in_a_saved_report(
    service: OllamaService, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").tokens_per_second = 400.0
    fleet.fake("laptop").tokens_per_second = 100.0
    result = await service.bench.compare(
        ["llama3.2:1b"],
        hosts=["gpu", "laptop"],
        prompts=["Count to three"],
        runs=1,
        warmup=0,
        max_tokens=16,
    )

    assert [o.model for o in result.models] == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    assert [o.host for o in result.models] == ["gpu", "laptop"]
    ranking = [entry.model for entry in result.rankings["tokens_per_second"]]
    assert ranking == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    assert result.report_id is not None
    markdown = Path(result.report_files["markdown"]).read_text(encoding="utf-8")
    assert "llama3.2:1b@gpu vs llama3.2:1b@laptop" in markdown
    assert "llama3.2:1b@laptop" in Path(result.report_files["chart"]).read_text(encoding="utf-8")
    assert result.environment["host"].startswith("gpu=http://127.0.0.1:")


async def test_a_benchmark_runs_on_the_host_named_and_says_so(
    service: OllamaService, fleet: FakeFleet
) -> None:
    result = await service.bench.benchmark(
        "llama3.2:1b", host="laptop", prompts=["Count to three"], runs=1, warmup=0
    )

    assert result.host == "laptop"
    assert fleet.spread() == {"gpu": 0, "laptop": 1, "nas": 0}
    markdown = Path(result.report_files["markdown"]).read_text(encoding="utf-8")
    assert "Benchmark: llama3.2:1b@laptop" in markdown
    listed = service.reports.list_reports("benchmark", 5)
    assert listed.reports[0].title == "Benchmark: llama3.2:1b@laptop"


async def test_a_comparison_without_hosts_runs_each_model_where_routing_sends_it(
    service: OllamaService,
) -> None:
    result = await service.bench.compare(
        ["gemma3:270m", "phi3"], prompts=["Count to three"], runs=1, warmup=0, save_report=False
    )

    assert [o.model for o in result.models] == ["gemma3:270m@laptop", "phi3"]
    assert result.failed == ["phi3"]
    failed = result.models[1]
    assert failed.error is not None
    assert "is not on any host" in failed.error
