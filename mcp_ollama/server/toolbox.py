"""How every tool is registered: only when the `tools` setting enables it, strict about its
arguments, with lean schemas, its `model` defaulting to `default_model`, its `host` arguments
only when several hosts are configured, and its answer rendered as text for the model
(`answers.py`) next to compact structured content.

A tools module declares its tools with `@box.tool(...)` exactly as it would with
`@mcp.tool(...)`; `build_server()` hands the collected `LeanTool`s to `MCPServer(tools=...)`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import (
    CallToolResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, ValidationError

from mcp_ollama.errors import MCPOllamaError
from mcp_ollama.server._common import service_of
from mcp_ollama.server.answers import renderer_for
from mcp_ollama.server.arguments import invalid_arguments, unknown_arguments
from mcp_ollama.server.confirmations import can_ask
from mcp_ollama.server.output_schemas import output_schema
from mcp_ollama.server.params import DEFAULTS_TO_CONFIGURED_MODEL, SEVERAL_HOSTS_ONLY
from mcp_ollama.server.schemas import lean_input_schema
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import DESTRUCTIVE, TOOLS, not_enabled

__all__ = ["LeanTool", "ToolBox", "ToolsetServer"]

Fn = TypeVar("Fn", bound=Callable[..., Any])


class LeanTool(Tool):
    """An SDK tool that refuses unknown arguments, fills `model` from the settings and answers
    with rendered text plus compact structured content."""

    accepted: tuple[str, ...] = ()
    model_argument: str | None = None
    default_model: str | None = None
    render: Callable[[Any], str] | None = None

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        """Check the argument names, fill a left-out model, run, then render the answer."""
        unknown = [name for name in arguments if name not in self.accepted]
        if unknown:
            raise ToolError(self._error(unknown_arguments(unknown, self.accepted)))
        if self.model_argument is not None and arguments.get(self.model_argument) is None:
            arguments = {**arguments, self.model_argument: await self._model(context)}
        try:
            result = await super().run(arguments, context, convert_result=False)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(self._error(invalid_arguments(exc.__cause__))) from exc.__cause__
            raise
        if not convert_result or isinstance(result, CallToolResult | InputRequiredResult):
            return result
        return self._answer(result)

    def _error(self, message: str) -> str:
        return f"Error executing tool {self.name}: {message}"

    async def _model(self, context: Context[Any, Any]) -> str:
        """The configured default model, or an error that lists the installed ones."""
        if self.default_model:
            return self.default_model
        advice = "pass `model`, or set MCP_OLLAMA_DEFAULT_MODEL to use one by default"
        try:
            listing = await service_of(context).models.list_models()
        except MCPOllamaError:
            raise ToolError(self._error(f"no model given; {advice}")) from None
        installed = ", ".join(m.name for m in listing.models) or "none (call pull_model)"
        raise ToolError(self._error(f"no model given; installed: {installed}; {advice}"))

    def _answer(self, result: Any) -> CallToolResult:
        assert self.render is not None
        structured = result.model_dump(mode="json", exclude_none=True)
        return CallToolResult(
            content=[TextContent(type="text", text=self.render(result))],
            structured_content=structured,
        )


class ToolsetServer(MCPServer[Any]):
    """An `MCPServer` that lists a destructive tool only where a call could succeed, and explains
    a call to one of our tools the settings leave out, where the SDK would only say "Unknown
    tool"."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings

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


class ToolBox:
    """Collects the enabled tools; the others are skipped before the SDK sees them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = frozenset(settings.enabled_tools)
        self.tools: list[LeanTool] = []

    def tool(
        self,
        *,
        annotations: ToolAnnotations,
        name: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[Fn], Fn]:
        """Register the decorated function as a tool, if the settings enable it; `meta` is the
        tool's `_meta` (e.g. an MCP Apps view)."""

        def register(fn: Fn) -> Fn:
            tool_name = name or fn.__name__
            if tool_name not in TOOLS:
                raise ValueError(f"tool {tool_name!r} has no group: add it to toolsets.TOOLS")
            if tool_name in self.enabled:
                self.tools.append(self._build(fn, tool_name, annotations, meta))
            return fn

        return register

    def ordered(self) -> list[Tool]:
        """The built tools in the order of `toolsets.TOOLS` (related tools side by side)."""
        order = {name: i for i, name in enumerate(TOOLS)}
        return sorted(self.tools, key=lambda tool: order[tool.name])

    def _build(
        self,
        fn: Callable[..., Any],
        name: str,
        annotations: ToolAnnotations,
        meta: dict[str, Any] | None,
    ) -> LeanTool:
        output = typing.get_type_hints(fn).get("return")
        if not (isinstance(output, type) and issubclass(output, BaseModel)):
            raise TypeError(f"tool {name!r} must return a pydantic model (its structured content)")
        # structured_output=False: the SDK would generate pydantic's full JSON schema of the
        # result, the slowest part of start-up; `output_schema()` reads the fields instead.
        tool = LeanTool.from_function(
            fn,
            name=name,
            description=_one_paragraph(fn.__doc__),
            annotations=annotations,
            meta=meta,
            structured_output=False,
        )
        assert isinstance(tool, LeanTool)
        single = len(self.settings.host_configs()) == 1
        tool.fn_metadata.output_schema = output_schema(output, several_hosts=not single)
        tool.render = renderer_for(output)
        fields = tool.fn_metadata.arg_model.model_fields
        tool.accepted = tuple(info.alias or field for field, info in fields.items())
        tool.model_argument = next(
            (
                info.alias or field
                for field, info in fields.items()
                if DEFAULTS_TO_CONFIGURED_MODEL in info.metadata
            ),
            None,
        )
        parameters = lean_input_schema(tool.parameters)
        if single:
            hidden = [
                info.alias or field
                for field, info in fields.items()
                if SEVERAL_HOSTS_ONLY in info.metadata
            ]
            tool.accepted = tuple(a for a in tool.accepted if a not in hidden)
            for argument in hidden:
                del parameters["properties"][argument]
        default_model = self.settings.default_model
        if tool.model_argument is not None and default_model:
            tool.default_model = default_model
            _optional_model(parameters, tool.model_argument, default_model)
        tool.parameters = parameters
        return tool


def _one_paragraph(doc: str | None) -> str:
    """A docstring as the tool description: its lines joined, indentation gone."""
    return " ".join((doc or "").split())


def _optional_model(parameters: dict[str, Any], argument: str, default: str) -> None:
    """With a default model configured, `model` may be left out: the schema says which."""
    required = [name for name in parameters.get("required", []) if name != argument]
    if required:
        parameters["required"] = required
    else:
        parameters.pop("required", None)
    parameters["properties"][argument]["default"] = default
