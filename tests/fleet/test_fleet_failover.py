"""Several hosts: a host that refuses connections or times out before the first token is marked
down and the call moves to another host that has the model; a down host rejoins on its own; a 500
from Ollama and a stream that breaks after tokens are errors as with one host. Fake daemons on
loopback, driven through a real MCP client."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from mcp_ollama.server import build_server
from tests.fleet_helpers import FakeFleet, fake_fleet
from tests.mcp_helpers import error_text, ok, poll, text_of

pytestmark = pytest.mark.anyio

GENERATE = {"model": "llama3.2:1b", "prompt": "Say hi"}


def both_loaded(fleet: FakeFleet) -> None:
    """llama3.2:1b in memory on gpu and laptop, so calls take turns (gpu first)."""
    for name in ("gpu", "laptop"):
        fleet.fake(name).load_model("llama3.2:1b")


async def test_killing_a_host_during_200_calls_at_16_in_flight_fails_no_call(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        gpu = fleet.handles["gpu"]
        # Calls on gpu wait for their first token until it is stopped under them.
        gpu.fake.generation_gate = threading.Event()
        failures: list[str] = []
        hosts: list[str] = []
        limiter = anyio.CapacityLimiter(16)
        async with Client(build_server(fleet.settings), mode="legacy") as client:

            async def one() -> None:
                async with limiter:
                    result = await client.call_tool("generate_text", GENERATE)
                if result.is_error:
                    failures.append(text_of(result))
                else:
                    hosts.append(ok(result)["host"])

            async with anyio.create_task_group() as tg:
                for _ in range(200):
                    tg.start_soon(one)
                await poll(lambda: fleet.calls("gpu") >= 4)
                await anyio.to_thread.run_sync(gpu.stop)

            assert failures == []
            assert len(hosts) == 200
            assert set(hosts) == {"laptop"}  # nothing gpu held ever answered

            # It comes back; the background probe lets it rejoin, and calls reach it again.
            gpu.fake.generation_gate = None
            await anyio.to_thread.run_sync(gpu.start)
            before = fleet.calls("gpu")
            with anyio.fail_after(20):
                while fleet.calls("gpu") == before:
                    ok(await client.call_tool("generate_text", GENERATE))


async def test_a_host_answering_500_is_not_treated_as_down(tmp_path: Path) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        both_loaded(fleet)
        fleet.fake("gpu").set_fault("http_500", paths={"/api/generate"})
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            first = await client.call_tool("generate_text", GENERATE)
            second = ok(await client.call_tool("generate_text", GENERATE))
            third = await client.call_tool("generate_text", GENERATE)
            health = ok(await client.call_tool("check_health", {}))

        assert "HTTP 500" in error_text(first)  # Ollama's own error, not moved elsewhere
        assert second["host"] == "laptop"
        assert "HTTP 500" in error_text(third)  # gpu still takes its turn
        assert fleet.spread() == {"gpu": 2, "laptop": 1}
        assert [h["marked_down"] for h in health["hosts"]] == [False, False]


async def test_a_host_that_times_out_before_the_first_token_loses_the_call_to_another(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop"), stall_timeout=0.3) as fleet:
        both_loaded(fleet)
        fleet.fake("gpu").ttft = 30.0  # says nothing for longer than the stall timeout
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            answer = ok(await client.call_tool("generate_text", GENERATE))
            health = ok(await client.call_tool("check_health", {}))

        assert answer["host"] == "laptop"
        assert fleet.spread() == {"gpu": 1, "laptop": 1}
        assert [h["marked_down"] for h in health["hosts"]] == [True, False]


async def test_a_stream_that_breaks_after_tokens_is_an_error_and_never_generated_twice(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        both_loaded(fleet)
        fleet.fake("gpu").set_fault("drop_mid_stream", count=1, paths={"/api/generate"})
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            result = await client.call_tool("generate_text", GENERATE)

        assert "interrupted after" in error_text(result)
        assert fleet.spread() == {"gpu": 1, "laptop": 0}


async def test_a_model_only_a_down_host_has_fails_with_the_connection_error(
    tmp_path: Path,
) -> None:
    with fake_fleet(tmp_path, ("gpu", "laptop")) as fleet:
        async with Client(build_server(fleet.settings), mode="legacy") as client:
            ok(await client.call_tool("list_local_models", {}))
            fleet.handles["laptop"].stop()
            result = await client.call_tool("generate_text", {**GENERATE, "model": "gemma3:270m"})
            # A model both have still answers, from the host that is up.
            answer = ok(await client.call_tool("generate_text", GENERATE))

        assert "cannot connect to Ollama at " + fleet.handles["laptop"].url in error_text(result)
        assert answer["host"] == "gpu"
