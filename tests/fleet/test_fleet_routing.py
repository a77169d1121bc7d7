"""Several hosts: a call goes to a host that has its model, spread by load, loaded models and
weights; a model no host has is an error naming what each has; each host's list is its own.
Three fake daemons on loopback, driven through a real MCP client."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_ollama.fleet.catalog import cache_path
from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fleet_helpers import MODELS, FakeFleet, fake_fleet
from tests.mcp_helpers import error_text, ok, poll, text_of

pytestmark = pytest.mark.anyio

GENERATE = {"model": "llama3.2:1b", "prompt": "Say hi"}


async def test_a_call_reaches_only_a_host_that_has_the_model(
    client: Client, fleet: FakeFleet
) -> None:
    answer = ok(await client.call_tool("generate_text", {**GENERATE, "model": "gemma3:270m"}))
    assert answer["host"] == "laptop"
    ok(await client.call_tool("embed", {"model": "nomic-embed-text", "input": ["a"]}))
    for _ in range(4):
        chat = {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "Hi"}]}
        assert ok(await client.call_tool("chat", chat))["host"] in {"gpu", "nas"}

    assert fleet.spread() == {"gpu": 0, "laptop": 1, "nas": 0}
    assert fleet.spread("/api/embed") == {"gpu": 0, "laptop": 0, "nas": 1}
    chats = fleet.spread("/api/chat")
    assert chats["laptop"] == 0
    assert chats["gpu"] + chats["nas"] == 4


async def test_32_concurrent_calls_for_a_model_on_two_hosts_spread_over_both(
    client: Client, fleet: FakeFleet
) -> None:
    gate = threading.Event()  # holds every first token, so all 32 are in flight at once
    for name in ("gpu", "laptop"):
        fleet.fake(name).generation_gate = gate
    answers: list[str] = []

    async def one() -> None:
        answers.append(ok(await client.call_tool("generate_text", GENERATE))["host"])

    async with anyio.create_task_group() as tg:
        for _ in range(32):
            tg.start_soon(one)
        await poll(lambda: fleet.calls("gpu") + fleet.calls("laptop") == 32)
        spread = fleet.spread()
        gate.set()

    assert spread["nas"] == 0
    assert spread["gpu"] >= 11
    assert spread["laptop"] >= 11
    assert sorted(answers) == sorted(["gpu"] * spread["gpu"] + ["laptop"] * spread["laptop"])


async def test_a_host_with_the_model_loaded_is_preferred(client: Client, fleet: FakeFleet) -> None:
    fleet.fake("laptop").load_model("llama3.2:1b")

    for _ in range(5):
        assert ok(await client.call_tool("generate_text", GENERATE))["host"] == "laptop"

    assert fleet.spread() == {"gpu": 0, "laptop": 5, "nas": 0}


async def test_one_at_a_time_calls_take_turns_by_weight(tmp_path: Path) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop"), weights={"gpu": 3}) as fleet:
        for name in ("gpu", "laptop"):
            fleet.fake(name).load_model("llama3.2:1b")
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            for _ in range(8):
                ok(await client.call_tool("generate_text", GENERATE))

        assert fleet.spread() == {"gpu": 6, "laptop": 2}


async def test_a_model_no_host_has_is_an_error_naming_what_each_host_has(
    client: Client, fleet: FakeFleet
) -> None:
    message = error_text(await client.call_tool("generate_text", {**GENERATE, "model": "phi3"}))

    assert "'phi3' is not on any host" in message
    assert "gpu has llama3.2:1b, qwen3:0.6b" in message
    assert "laptop has gemma3:270m, llama3.2:1b" in message
    assert "nas has nomic-embed-text:latest, qwen3:0.6b" in message
    assert "pull_model" in message
    assert fleet.spread() == {"gpu": 0, "laptop": 0, "nas": 0}


async def test_auto_pull_puts_a_missing_model_on_the_least_loaded_healthy_host(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, auto_pull=True) as fleet:
        fleet.handles["nas"].stop()
        gate = threading.Event()
        fleet.fake("gpu").generation_gate = gate  # a qwen3 call stays in flight on gpu
        chat = {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "Hi"}]}
        async with (
            Client(build_server(fleet.settings), mode="legacy") as client,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(client.call_tool, "chat", chat)
            await poll(lambda: fleet.calls("gpu", "/api/chat") == 1)

            tiny = ok(await client.call_tool("generate_text", {**GENERATE, "model": "tinyllama"}))
            gate.set()

        assert tiny["host"] == "laptop"
        assert fleet.calls("laptop", "/api/pull") == 1
        assert fleet.calls("gpu", "/api/pull") == 0
        assert fleet.fake("laptop").get_model("tinyllama") is not None


async def test_the_model_list_names_the_hosts_of_each_model_and_where_it_is_loaded(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.fake("gpu").load_model("qwen3:0.6b")

    listed = ok(await client.call_tool("list_local_models", {}))

    by_name = {m["name"]: m for m in listed["models"]}
    assert sorted(by_name) == sorted({m for models in MODELS.values() for m in models})
    assert by_name["llama3.2:1b"]["hosts"] == ["gpu", "laptop"]
    assert by_name["qwen3:0.6b"]["hosts"] == ["gpu", "nas"]
    assert by_name["qwen3:0.6b"]["loaded_on"] == ["gpu"]
    assert by_name["gemma3:270m"]["hosts"] == ["laptop"]
    assert by_name["llama3.2:1b"]["loaded_on"] == []


async def test_the_catalogue_of_one_host_is_never_served_for_another(
    client: Client, fleet: FakeFleet, tmp_path: Path
) -> None:
    ok(await client.call_tool("list_local_models", {}))
    for name, handle in fleet.handles.items():
        saved = json.loads(cache_path(fleet.settings.data_dir, handle.url).read_text())
        assert saved["base_url"] == handle.url
        assert sorted(m["name"] for m in saved["models"]) == sorted(MODELS[name])

    # The same data directory, now with only the laptop (OLLAMA_HOST alone): its own list,
    # fresh from its own cache file, without asking it again.
    laptop = fleet.handles["laptop"]
    before = fleet.calls("laptop", "/api/tags")
    single = Settings(
        host=laptop.url, data_dir=fleet.settings.data_dir, auto_start=False, cli_fallback=False
    )
    async with Client(build_server(single), mode="legacy") as alone:
        listed = ok(await alone.call_tool("list_local_models", {}))

    assert sorted(m["name"] for m in listed["models"]) == sorted(MODELS["laptop"])
    assert all(m.get("hosts") is None for m in listed["models"])
    assert fleet.calls("laptop", "/api/tags") == before


async def test_routing_asks_no_daemon_for_its_model_list_within_the_cache_ttl(
    client: Client, fleet: FakeFleet
) -> None:
    ok(await client.call_tool("generate_text", GENERATE))
    listings = {name: fleet.calls(name, "/api/tags") for name in fleet.handles}
    loaded = {name: fleet.calls(name, "/api/ps") for name in fleet.handles}

    for _ in range(10):
        ok(await client.call_tool("generate_text", GENERATE))

    assert {name: fleet.calls(name, "/api/tags") for name in fleet.handles} == listings
    assert {name: fleet.calls(name, "/api/ps") for name in fleet.handles} == loaded


async def test_an_error_for_a_model_on_no_host_lists_each_host_in_its_text(
    client: Client,
) -> None:
    result = await client.call_tool("show_model", {"model": "phi3:mini"})
    assert result.is_error
    assert "is not on any host" in text_of(result)
