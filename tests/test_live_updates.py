"""Live updates through real clients: resource subscriptions (resources/subscribe on the
handshake era, subscriptions/listen on 2026-07-28) and list changes, after the operations that
change models, reports, outputs and sessions."""

from __future__ import annotations

import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client, MCPDeprecationWarning, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated, Subscription
from mcp.types import (
    LoggingMessageNotificationParams,
    ResourceListChangedNotification,
    ResourceUpdatedNotification,
    ServerNotification,
)

from mcp_ollama.server import build_server
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle
from tests.http_helpers import serving
from tests.mcp_helpers import block_text, ok, poll
from tests.test_transports import child_env

pytestmark = pytest.mark.anyio

BOUND = 10


class Inbox:
    """A handshake-era client's message handler: the updated URIs and list changes seen."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.list_changes = 0

    async def __call__(self, message: ServerNotification | Exception) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.updated.append(message.params.uri)
        elif isinstance(message, ResourceListChangedNotification):
            self.list_changes += 1


@asynccontextmanager
async def legacy_client(settings: Settings) -> AsyncIterator[tuple[Client, Inbox]]:
    inbox = Inbox()
    async with Client(build_server(settings), mode="legacy", message_handler=inbox) as client:
        yield client, inbox


async def subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():  # resources/subscribe is the handshake era's own method
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.subscribe_resource(uri)


async def next_events(subscription: Subscription, count: int) -> list[object]:
    events: list[object] = []
    with anyio.fail_after(BOUND):
        async for event in subscription:
            events.append(event)
            if len(events) == count:
                return events
    return events


async def test_a_subscribed_legacy_client_hears_of_a_pull_and_only_of_what_it_subscribed_to(
    settings: Settings, fake: FakeOllama
) -> None:
    model = next(iter(fake.pullable))
    async with legacy_client(settings) as (client, inbox):
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe is True
        assert client.server_capabilities.resources.list_changed is True
        await subscribe(client, "ollama://models")
        await subscribe(client, "ollama://models/some-other:1b")
        ok(await client.call_tool("pull_model", {"model": model}))
        await poll(lambda: inbox.updated, BOUND)
        assert inbox.updated == ["ollama://models"]
        assert inbox.list_changes == 0  # models are read through a template: the list is as it was

        models = await client.read_resource("ollama://models")
        assert model in block_text(models.contents[0])


async def test_unsubscribing_stops_the_updates(settings: Settings, fake: FakeOllama) -> None:
    fake.add_model("a:1b")
    async with legacy_client(settings) as (client, inbox):
        await subscribe(client, "ollama://models")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.unsubscribe_resource("ollama://models")
        await subscribe(client, "ollama://models/b:1b")
        ok(await client.call_tool("copy_model", {"source": "a:1b", "destination": "b:1b"}))
        await poll(lambda: inbox.updated, BOUND)
        assert inbox.updated == ["ollama://models/b:1b"]


async def test_a_new_report_changes_the_resource_list_it_is_named_in(
    settings: Settings,
) -> None:
    async with legacy_client(settings) as (client, inbox):
        await subscribe(client, "reports://list")
        before = {r.uri for r in (await client.list_resources()).resources}
        data = ok(
            await client.call_tool(
                "benchmark_model",
                {"model": "llama3.2:1b", "prompts": ["Hi."], "runs": 1, "warmup": 0},
            )
        )
        await poll(lambda: inbox.list_changes and inbox.updated, BOUND)
        assert inbox.updated == ["reports://list"]
        after = {r.uri for r in (await client.list_resources()).resources}
        assert after - before == {f"reports://{data['report_id']}/markdown"}


async def test_a_saved_output_is_listed_and_readable(settings: Settings) -> None:
    async with legacy_client(settings) as (client, inbox):
        data = ok(
            await client.call_tool(
                "generate_text",
                {"model": "llama3.2:1b", "prompt": "Hi.", "save_output": True},
            )
        )
        await poll(lambda: inbox.list_changes, BOUND)
        uri = f"outputs://{data['saved_output']}"
        assert uri in {r.uri for r in (await client.list_resources()).resources}
        saved = await client.read_resource(uri)
        assert saved.contents[0].mime_type == "text/markdown"
        assert data["text"] in block_text(saved.contents[0])


async def test_a_chat_turn_updates_its_session_for_a_listening_modern_client(
    settings: Settings,
) -> None:
    async with Client(build_server(settings)) as client:
        assert client.protocol_version == "2026-07-28"
        hello = {"role": "user", "content": "Hi."}
        first = ok(
            await client.call_tool(
                "chat", {"model": "llama3.2:1b", "messages": [hello], "session_id": "new"}
            )
        )
        uri = f"sessions://{first['session_id']}"
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            ok(
                await client.call_tool(
                    "chat",
                    {
                        "model": "llama3.2:1b",
                        "session_id": first["session_id"],
                        "messages": [{"role": "user", "content": "And then?"}],
                    },
                )
            )
            events = await next_events(subscription, 1)
        assert events == [ResourceUpdated(uri=uri)]


async def test_a_listening_modern_client_hears_of_a_pull_and_of_a_new_report(
    settings: Settings, fake: FakeOllama
) -> None:
    model = next(iter(fake.pullable))
    async with (
        Client(build_server(settings)) as client,
        client.listen(
            resources_list_changed=True, resource_subscriptions=["ollama://models"]
        ) as subscription,
    ):
        ok(await client.call_tool("pull_model", {"model": model}))
        assert await next_events(subscription, 1) == [ResourceUpdated(uri="ollama://models")]
        ok(
            await client.call_tool(
                "benchmark_model",
                {"model": model, "prompts": ["Hi."], "runs": 1, "warmup": 0},
            )
        )
        assert await next_events(subscription, 1) == [ResourcesListChanged()]


async def test_every_connected_client_hears_of_a_change_another_one_made(
    settings: Settings, fake: FakeOllama
) -> None:
    fake.add_model("gone:1b")
    server = build_server(settings.model_copy(update={"allow_destructive": True}))
    watcher = Inbox()
    async with (
        Client(server, mode="legacy", message_handler=watcher) as watching,
        Client(server, mode="legacy") as acting,
    ):
        await subscribe(watching, "ollama://models/gone:1b")
        ok(await acting.call_tool("delete_model", {"model": "gone:1b"}))
        await poll(lambda: watcher.updated, BOUND)
    assert watcher.updated == ["ollama://models/gone:1b"]


@pytest.mark.parametrize("transport", ["http", "sse"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_updates_and_log_messages_travel_over_the_http_transports(
    settings: Settings, fake: FakeOllama, transport: str, mode: str
) -> None:
    model = next(iter(fake.pullable))
    inbox, logs = Inbox(), []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data["event"])

    configured = settings.model_copy(update={"transport": transport})
    async with serving(configured) as base:
        target = f"{base}/mcp" if transport == "http" else sse_client(f"{base}/sse")
        async with Client(
            target,  # type: ignore[arg-type]
            mode=mode,  # type: ignore[arg-type]
            message_handler=inbox,
            logging_callback=on_log,
            log_level="info",
        ) as client:
            with anyio.fail_after(BOUND):
                if mode == "legacy":
                    await subscribe(client, "ollama://models")
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", MCPDeprecationWarning)
                        await client.set_logging_level("info")
                    ok(await client.call_tool("pull_model", {"model": model}))
                    await poll(lambda: inbox.updated, BOUND)
                    assert inbox.updated == ["ollama://models"]
                else:
                    async with client.listen(resource_subscriptions=["ollama://models"]) as sub:
                        ok(await client.call_tool("pull_model", {"model": model}))
                        events = await next_events(sub, 1)
                    assert events == [ResourceUpdated(uri="ollama://models")]
                await poll(lambda: "model pulled" in logs, BOUND)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_stdio_client_hears_of_a_new_report(
    fake_ollama: FakeServerHandle, tmp_path: Path, mode: str
) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_ollama"], env=child_env(fake_ollama, tmp_path)
    )
    inbox = Inbox()
    run = {"model": "llama3.2:1b", "prompts": ["Hi."], "runs": 1, "warmup": 0}
    with (tmp_path / "stderr.log").open("w", encoding="utf-8") as errlog, anyio.fail_after(60):
        client = Client(stdio_client(params, errlog=errlog), mode=mode, message_handler=inbox)  # type: ignore[arg-type]
        async with client:
            if mode == "legacy":
                ok(await client.call_tool("benchmark_model", run))
                await poll(lambda: inbox.list_changes, BOUND)
            else:
                async with client.listen(resources_list_changed=True) as subscription:
                    ok(await client.call_tool("benchmark_model", run))
                    assert await next_events(subscription, 1) == [ResourcesListChanged()]
