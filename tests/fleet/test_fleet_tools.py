"""Several hosts through a real MCP client: `host` pins a call, pull_model takes 'all',
compare_models ranks machines; the `host` arguments are listed only when there are hosts to
choose from, and the tool list still fits its budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.economy_helpers import minified
from tests.fleet_helpers import FakeFleet, fake_fleet
from tests.mcp_helpers import error_text, ok, text_of

pytestmark = pytest.mark.anyio

GENERATE = {"model": "llama3.2:1b", "prompt": "Say hi"}
HOST_TOOLS = {
    "generate_text": "host",
    "chat": "host",
    "embed": "host",
    "generate_batch": "host",
    "show_model": "host",
    "list_running_models": "host",
    "pull_model": "host",
    "copy_model": "host",
    "create_model": "host",
    "delete_model": "host",
    "unload_model": "host",
    "benchmark_model": "host",
    "compare_models": "hosts",
}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FakeFleet]:
    with fake_fleet(tmp_path, tools=["all"], allow_destructive=True) as value:
        yield value


async def test_host_pins_a_call_to_one_machine(client: Client, fleet: FakeFleet) -> None:
    for _ in range(3):
        result = await client.call_tool("generate_text", {**GENERATE, "host": "laptop"})
        assert ok(result)["host"] == "laptop"
        assert text_of(result).endswith("on laptop]")

    missing = error_text(await client.call_tool("generate_text", {**GENERATE, "host": "nas"}))

    assert fleet.spread() == {"gpu": 0, "laptop": 3, "nas": 1}
    assert "not on host 'nas'" in missing
    assert "host='nas'" in missing


async def test_an_unknown_host_is_an_error_that_lists_the_hosts(client: Client) -> None:
    message = error_text(await client.call_tool("generate_text", {**GENERATE, "host": "desk"}))
    assert "no host is called 'desk'; the hosts are: gpu, laptop, nas" in message


async def test_pull_model_with_host_all_pulls_on_every_host(
    client: Client, fleet: FakeFleet
) -> None:
    result = await client.call_tool("pull_model", {"model": "tinyllama", "host": "all"})

    assert ok(result)["hosts"] == ["gpu", "laptop", "nas"]
    assert "on gpu, laptop, nas" in text_of(result)
    assert fleet.spread("/api/pull") == {"gpu": 1, "laptop": 1, "nas": 1}


async def test_compare_models_with_hosts_saves_a_report_ranking_the_machines(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").tokens_per_second = 400.0
    fleet.fake("laptop").tokens_per_second = 100.0
    arguments = {
        "models": ["llama3.2:1b"],
        "hosts": ["gpu", "laptop"],
        "prompts": ["Count to three"],
        "runs": 1,
        "warmup": 0,
        "max_tokens": 16,
    }

    result = await client.call_tool("compare_models", arguments)

    data = ok(result)
    ranking = [entry["model"] for entry in data["rankings"]["tokens_per_second"]]
    assert ranking == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    assert "| llama3.2:1b@gpu |" in text_of(result)
    report = ok(await client.call_tool("get_report", {"report_id": data["report_id"]}))
    assert "llama3.2:1b@gpu vs llama3.2:1b@laptop" in report["content"]


async def test_list_running_models_and_check_health_answer_per_host(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").load_model("qwen3:0.6b")
    fleet.handles["nas"].stop()

    running = text_of(await client.call_tool("list_running_models", {}))
    health = text_of(await client.call_tool("check_health", {}))

    assert "qwen3:0.6b on gpu" in running
    assert "nas did not answer" in running
    assert "Healthy: 2 of 3 hosts answer." in health
    assert f"nas ({fleet.handles['nas'].url}): does not answer" in health


async def test_host_arguments_are_listed_only_with_several_hosts_and_fit_the_budget(
    client: Client, settings: Settings
) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name, argument in HOST_TOOLS.items():
        assert argument in tools[name].input_schema["properties"], name

    single = settings.model_copy(update={"tools": ["all"], "allow_destructive": True})
    async with Client(build_server(single), mode="legacy") as alone:
        listed = (await alone.list_tools()).tools
        refused = error_text(await alone.call_tool("generate_text", {**GENERATE, "host": "x"}))
    assert not any({"host", "hosts"} & set(t.input_schema["properties"]) for t in listed)
    mentions = [t.name for t in listed if "host" in json.dumps(t.model_dump(mode="json")).lower()]
    assert mentions == []  # with one host, no description, argument or result names hosts
    assert "host" in refused

    hosts = {"a": {"url": "10.0.0.5"}, "b": {"url": "10.0.0.6"}}
    core = Settings(data_dir=settings.data_dir, tools=["core"], hosts=hosts)
    async with Client(build_server(core), mode="legacy") as fleet_client:
        core_tools = (await fleet_client.list_tools()).tools
    size = minified(
        [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in core_tools]
    )
    assert size <= 12_000


async def test_benchmark_model_with_hosts_ranks_the_machines_fastest_first(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").tokens_per_second = 400.0
    fleet.fake("laptop").tokens_per_second = 100.0
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    arguments = {
        "model": "llama3.2:1b",
        "hosts": ["laptop", "gpu"],
        "prompts": ["Count to three"],
        "runs": 1,
        "warmup": 0,
        "max_tokens": 16,
    }

    result = await client.call_tool("benchmark_model", arguments)
    both = await client.call_tool("benchmark_model", {**arguments, "host": "gpu"})

    assert "hosts" in listed["benchmark_model"].input_schema["properties"]
    data = ok(result)
    assert data["host"] == "gpu"  # the figures at the top are the fastest machine's
    assert [h["model"] for h in data["hosts"]] == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    ranking = [entry["model"] for entry in data["rankings"]["tokens_per_second"]]
    assert ranking == ["llama3.2:1b@gpu", "llama3.2:1b@laptop"]
    text = text_of(result)
    assert text.startswith("llama3.2:1b on 2 hosts, 1 run(s) per prompt after 0 warmup")
    assert text.index("| llama3.2:1b@gpu |") < text.index("| llama3.2:1b@laptop |")
    report = ok(await client.call_tool("get_report", {"report_id": data["report_id"]}))
    assert "llama3.2:1b@laptop vs llama3.2:1b@gpu" in report["content"]
    assert "not both" in error_text(both)
