"""Several hosts through a real MCP client, as an agent reads the answers: check_health lists the
enabled tools like with one host, a host that does not answer is named with the setting that
configures it (never OLLAMA_HOST, which a fleet does not use), and a pull on every host reports
the model's size once."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fleet_helpers import FakeFleet, fake_fleet
from tests.mcp_helpers import error_text, ok, text_of
from tests.not_ollama import serve_not_ollama

pytestmark = pytest.mark.anyio

GENERATE = {"model": "llama3.2:1b", "prompt": "Say hi"}
SINGLE_HOST_ADVICE = ("is Ollama running", "set OLLAMA_HOST", "OLLAMA_HOST to")


def assert_fleet_wording(message: str) -> None:
    assert "MCP_OLLAMA_HOSTS" in message
    for advice in SINGLE_HOST_ADVICE:
        assert advice not in message, message


async def test_check_health_with_several_hosts_lists_the_enabled_tools(
    client: Client, fleet: FakeFleet
) -> None:
    result = await client.call_tool("check_health", {})

    tools = list(fleet.settings.enabled_tools)
    assert tools
    assert ok(result)["tools"] == tools
    assert f"tools ({len(tools)}): {', '.join(tools)}" in text_of(result)


async def test_a_call_whose_hosts_are_all_down_names_each_host_tried_and_the_hosts_setting(
    client: Client, fleet: FakeFleet
) -> None:
    ok(await client.call_tool("list_local_models", {}))
    fleet.handles["gpu"].stop()
    fleet.handles["laptop"].stop()

    message = error_text(await client.call_tool("generate_text", GENERATE))

    gpu, laptop = fleet.handles["gpu"].url, fleet.handles["laptop"].url
    assert message.partition(": ")[2].startswith(
        "no host that has 'llama3.2:1b' answered (gpu: cannot connect"
    )
    assert gpu in message
    assert laptop in message
    assert "nas" not in message  # it was not tried: it does not have the model
    assert message.endswith("then call again.")
    assert_fleet_wording(message)


async def test_a_pinned_host_that_is_down_is_named_with_the_hosts_setting(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.handles["laptop"].stop()

    message = error_text(await client.call_tool("generate_text", {**GENERATE, "host": "laptop"}))

    assert message.partition(": ")[2].startswith(
        "host 'laptop' did not answer (cannot connect to Ollama at "
    )
    assert fleet.handles["laptop"].url in message
    assert_fleet_wording(message)


async def test_with_every_host_down_list_local_models_names_every_host(
    client: Client, fleet: FakeFleet
) -> None:
    for handle in fleet.handles.values():
        handle.stop()

    message = error_text(await client.call_tool("list_local_models", {}))
    running = error_text(await client.call_tool("list_running_models", {}))

    for text in (message, running):
        assert text.partition(": ")[2].startswith("no host answered (gpu: cannot connect")
        assert all(handle.url in text for handle in fleet.handles.values())
        assert_fleet_wording(text)


async def test_pull_model_on_every_host_reports_the_size_of_the_model_once(
    client: Client, fleet: FakeFleet
) -> None:
    result = await client.call_tool("pull_model", {"model": "tinyllama", "host": "all"})

    data = ok(result)
    assert 637_000_000 < data["total_bytes"] < 640_000_000  # the 637 MB model, not 3 x 637 MB
    assert fleet.spread("/api/pull") == {"gpu": 1, "laptop": 1, "nas": 1}
    assert data["hosts"] == ["gpu", "laptop", "nas"]
    assert text_of(result) == "Pulled tinyllama (637 MB) on gpu, laptop, nas."


async def test_a_malformed_answer_from_a_host_of_several_names_that_host_in_the_hosts_setting(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.handles["gpu"].fake.set_fault("malformed_line", paths=["/api/show"])

    show = {"model": "llama3.2:1b", "host": "gpu"}
    text = error_text(await client.call_tool("show_model", show))

    assert "Ollama sent a malformed response" in text
    assert "check that the url of host 'gpu' in MCP_OLLAMA_HOSTS" in text
    assert_fleet_wording(text)


async def test_a_host_that_is_not_ollama_is_named_with_the_hosts_setting(tmp_path: Path) -> None:
    with fake_fleet(tmp_path, ("gpu",)) as fleet, serve_not_ollama() as web:
        hosts = {"gpu": {"url": fleet.handles["gpu"].url}, "web": {"url": web}}
        settings = fleet.settings.model_copy(update={"hosts": Settings(hosts=hosts).hosts})
        async with Client(build_server(settings), mode="legacy") as client:
            pinned = error_text(
                await client.call_tool("generate_text", {**GENERATE, "host": "web"})
            )
            health = text_of(await client.call_tool("check_health", {}))

    assert "which is not an Ollama answer: check that the url of host 'web' in" in pinned
    warning = next(line for line in health.splitlines() if line.startswith("warning: web: "))
    assert "which is not an Ollama answer: correct its url in MCP_OLLAMA_HOSTS" in warning
    for text in (pinned, warning):
        assert_fleet_wording(text)


async def test_with_one_host_down_lists_name_it_once_and_pull_all_says_what_it_skipped(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.handles["nas"].stop()

    listed = text_of(await client.call_tool("list_local_models", {"force_refresh": True}))
    running = text_of(await client.call_tool("list_running_models", {}))
    pulled = await client.call_tool("pull_model", {"model": "tinyllama", "host": "all"})

    nas = fleet.handles["nas"].url
    assert f"nas could not be reached (cannot connect to Ollama at {nas} (connection" in listed
    assert f"nas did not answer: cannot connect to Ollama at {nas}" in running
    assert ok(pulled)["skipped"] == ["nas"]
    assert text_of(pulled) == (
        "Pulled tinyllama (637 MB) on gpu, laptop; not on nas, which did not answer: call "
        "pull_model with host='nas' once it is back."
    )


async def test_a_model_no_answering_host_has_says_a_silent_host_may_have_it(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.handles["nas"].stop()

    message = error_text(
        await client.call_tool("embed", {"model": "nomic-embed-text", "input": "x"})
    )

    assert "nas did not answer" in message
    assert message.endswith("pick one of these, or start Ollama on nas (it may have it).")


async def test_a_pull_on_every_host_that_one_host_refuses_says_where_it_went_and_where_not(
    client: Client, fleet: FakeFleet
) -> None:
    fleet.handles["nas"].stop()  # not known to be down yet: the pull tries it

    message = error_text(
        await client.call_tool("pull_model", {"model": "tinyllama", "host": "all"})
    )

    nas = fleet.handles["nas"].url
    assert (
        "pulled 'tinyllama' on gpu, laptop, but not on nas (nas: cannot connect to Ollama at "
        f"{nas} (connection refused)); call pull_model with host='nas' to retry there."
    ) in message
    assert not any(advice in message for advice in SINGLE_HOST_ADVICE)
