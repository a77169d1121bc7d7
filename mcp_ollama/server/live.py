"""Live updates: resource notifications when models, reports, outputs or sessions change.

| resource | updated when |
|---|---|
| `ollama://models`, `ollama://models/{name}` | a model is pulled, deleted, copied or created |
| `reports://list` | a benchmark or comparison is saved |
| `sessions://{session_id}` | a chat turn is stored, the session compacted or deleted |
| the resource list (it names the newest reports and saved outputs) | a report or output is saved |

A 2026-07-28 client opens `subscriptions/listen` (the SDK serves it from `Clients.bus`). A
handshake-era client sends `resources/subscribe` / `resources/unsubscribe` (handled here, per
connection) and gets `notifications/resources/updated` for what it subscribed to and
`notifications/resources/list_changed` when the list changes. Both eras see `resources.subscribe`
and `resources.listChanged` in the capabilities, and both work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer, NotificationOptions, ServerRequestContext
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    ListResourcesResult,
    PaginatedRequestParams,
    Resource,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from mcp_ollama.bench.outputs import newest_outputs
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.events import Change
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.server.clients import Clients, send_bounded
from mcp_ollama.server.resources_models import MODELS as MODELS_URI

__all__ = ["LiveUpdates", "affected"]

REPORTS_URI = "reports://list"
LISTED = 25
"""Reports (and as many saved outputs) named in the resource list; older ones stay readable
through their templates and `reports://list`."""
MAX_SUBSCRIPTIONS = 256
MAX_URI = 2048

ListHandler = Callable[[ServerRequestContext[Any, Any], PaginatedRequestParams], Awaitable[Any]]


def affected(change: Change) -> tuple[frozenset[str], bool]:
    """The resources a change updates, and whether the resource list changed with it.

    >>> uris, listed = affected(Change('models', ('Llama3.2',)))
    >>> sorted(uris), listed
    (['ollama://models', 'ollama://models/Llama3.2', 'ollama://models/llama3.2:latest'], False)
    >>> affected(Change('outputs', ('output-1',)))
    (frozenset(), True)
    """
    if change.topic == "models":
        names = {spelling for key in change.keys for spelling in (key, canonical_name(key))}
        return frozenset({MODELS_URI, *(f"{MODELS_URI}/{name}" for name in names)}), False
    if change.topic == "reports":
        return frozenset({REPORTS_URI}), True
    if change.topic == "outputs":
        return frozenset(), True
    return frozenset(f"sessions://{key}" for key in change.keys), False


class LiveUpdates:
    """Turns the core's changes into resource notifications for every connected client."""

    def __init__(self, clients: Clients, reports: ReportStore) -> None:
        self.clients = clients
        self.reports = reports

    def install(self, mcp: MCPServer[Any]) -> None:
        """Serve subscriptions, list the saved reports and outputs, advertise list changes."""
        # The SDK's documented way to serve a method MCPServer has no decorator for.
        lowlevel = mcp._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )
        listing = lowlevel.get_request_handler("resources/list")
        assert listing is not None, "MCPServer serves resources/list"
        lowlevel.add_request_handler(
            "resources/list", PaginatedRequestParams, partial(self._list, listing.handler)
        )
        # Every transport takes the handshake's capabilities from this method with no options,
        # and `listChanged` comes only from its options: the one place to say we send them.
        lowlevel.create_initialization_options = partial(  # type: ignore[method-assign]
            lowlevel.create_initialization_options, NotificationOptions(resources_changed=True)
        )

    def on_change(self, change: Change) -> None:
        """A `ChangeFeed` listener: notify in the background, never slowing the operation."""
        uris, listed = affected(change)
        self.clients.spawn(partial(self._deliver, uris, listed))

    async def _deliver(self, uris: frozenset[str], listed: bool) -> None:
        bus = self.clients.bus
        if listed:
            await bus.publish(ResourcesListChanged())
        for uri in sorted(uris):
            await bus.publish(ResourceUpdated(uri=uri))
        for peer in list(self.clients.peers.values()):
            if listed:
                await send_bounded(peer.connection.send_resource_list_changed)
            for uri in sorted(uris & peer.subscriptions):
                await send_bounded(partial(peer.connection.send_resource_updated, uri))

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        peer = self.clients.peer(ctx)
        if peer is not None and params.uri not in peer.subscriptions:
            if len(params.uri) > MAX_URI or len(peer.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise MCPError(
                    INVALID_PARAMS,
                    f"at most {MAX_SUBSCRIPTIONS} subscriptions of up to {MAX_URI} characters "
                    "each; unsubscribe from some first",
                )
            peer.subscriptions.add(params.uri)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        peer = self.clients.peer(ctx)
        if peer is not None:
            peer.subscriptions.discard(params.uri)
        return EmptyResult()

    async def _list(
        self,
        registered: ListHandler,
        ctx: ServerRequestContext[Any, Any],
        params: PaginatedRequestParams,
    ) -> ListResourcesResult:
        result: ListResourcesResult = await registered(ctx, params)
        saved = await anyio.to_thread.run_sync(self._saved)
        return result.model_copy(update={"resources": [*result.resources, *saved]})

    def _saved(self) -> list[Resource]:
        """The newest reports (as Markdown) and saved outputs, as listed resources."""
        reports = [
            Resource(
                uri=summary.uris["markdown"],
                name=summary.id,
                title=summary.title,
                mime_type="text/markdown",
                description=f"Saved {summary.kind} report, {summary.created_at}",
            )
            for summary in self.reports.list_reports(limit=LISTED).reports
        ]
        outputs = [
            Resource(
                uri=f"outputs://{output_id}",
                name=output_id,
                title=f"Saved output {output_id}",
                mime_type="text/markdown",
                description="A generate_text or chat answer saved with save_output",
            )
            for output_id in newest_outputs(self.reports, LISTED)
        ]
        return reports + outputs
