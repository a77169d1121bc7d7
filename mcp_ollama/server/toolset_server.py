"""`ToolsetServer`: the `MCPServer` that mcp-ollama runs.

It lists a destructive tool only where a call could succeed, explains a call to one of our tools
the settings leave out (where the SDK would only say "Unknown tool"), and registers prompts and
resource templates without building their argument models (`registration.py`): with tools
listed from the manifest (`listed_tools.py`), start-up builds no pydantic model of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import (
    CallToolResult,
    Icon,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
)

from mcp_ollama.server.clients import can_ask
from mcp_ollama.server.registration import LeanResources, lean_prompt
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import DESTRUCTIVE, TOOLS, not_enabled

__all__ = ["ToolsetServer"]

Fn = TypeVar("Fn", bound=Callable[..., Any])


class ToolsetServer(MCPServer[Any]):
    """An `MCPServer` that serves the tools these settings enable, the way they allow."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._resource_manager = LeanResources(
            self.settings.warn_on_duplicate_resources,
            resources=self._resource_manager.list_resources(),
        )

    def prompt(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[Icon] | None = None,
    ) -> Callable[[Fn], Fn]:
        """`@mcp.prompt()`, its argument model built on the prompt's first render."""
        if callable(name):
            return super().prompt(name)  # the SDK's error for `@prompt` without brackets

        def register(fn: Fn) -> Fn:
            prompt = lean_prompt(fn, name=name, title=title, description=description, icons=icons)
            self.add_prompt(prompt)
            return fn

        return register

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Call a tool; one this server does not serve gets the setting that would serve it."""
        settings = self._settings
        if name in TOOLS and name not in settings.enabled_tools:
            raise ToolError(not_enabled(name, settings.tools))
        return await super().call_tool(name, arguments, context)

    async def _handle_list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        """The tools, without the destructive ones unless this client can ask its user to
        confirm or destructive operations are enabled (otherwise every call is refused)."""
        listed = await super()._handle_list_tools(ctx, params)
        if self._settings.allow_destructive or can_ask(Context(request_context=ctx)):
            return listed
        tools = [tool for tool in listed.tools if tool.name not in DESTRUCTIVE]
        return listed.model_copy(update={"tools": tools})
