"""How every tool is registered: only when the `tools` setting enables it, strict about its
arguments, with lean schemas, its `model` defaulting to `default_model`, its `host` arguments
only when several hosts are configured, and its answer rendered as text for the model
(`answers.py`) next to compact structured content.

A tools module declares its tools with `@box.tool(...)` exactly as it would with
`@mcp.tool(...)`. The server lists them from the manifest (`listed_tools.py`) and builds each one
here on its first call; the manifest itself is generated from these builds.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from mcp_ollama.errors import MCPOllamaError
from mcp_ollama.server._common import service_of
from mcp_ollama.server.answers import renderer_for
from mcp_ollama.server.arguments import invalid_arguments, unknown_arguments
from mcp_ollama.server.listed_tools import ToolEntry, shaped
from mcp_ollama.server.output_schemas import output_schema
from mcp_ollama.server.params import DEFAULTS_TO_CONFIGURED_MODEL, SEVERAL_HOSTS_ONLY
from mcp_ollama.server.schemas import lean_input_schema
from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import TOOLS

__all__ = ["LeanTool", "ToolBox"]

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


class ToolBox:
    """Builds the enabled tools from their functions; the others are skipped before the SDK
    sees them. `entries` holds what each built tool declares (see `listed_tools`)."""

    def __init__(self, settings: Settings, enabled: Iterable[str] | None = None) -> None:
        self.settings = settings
        self.enabled = frozenset(settings.enabled_tools if enabled is None else enabled)
        self.tools: list[LeanTool] = []
        self.entries: dict[str, ToolEntry] = {}

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
        fields = tool.fn_metadata.arg_model.model_fields

        def marked(marker: object) -> list[str]:
            return [
                info.alias or field for field, info in fields.items() if marker in info.metadata
            ]

        results = output_schema(output)
        one_host = output_schema(output, several_hosts=False)["properties"]
        entry = ToolEntry(
            description=tool.description,
            input_schema=lean_input_schema(tool.parameters),
            output_schema=results,
            annotations=annotations.model_dump(mode="json", by_alias=True, exclude_none=True),
            meta=meta,
            arguments=[info.alias or field for field, info in fields.items()],
            model_argument=next(iter(marked(DEFAULTS_TO_CONFIGURED_MODEL)), None),
            several_hosts_only=marked(SEVERAL_HOSTS_ONLY),
            several_hosts_results=[f for f in results["properties"] if f not in one_host],
        )
        self.entries[name] = entry
        shape = shaped(entry, self.settings)
        tool.parameters, tool.fn_metadata.output_schema = shape.parameters, shape.output_schema
        tool.accepted, tool.default_model = shape.accepted, shape.default_model
        tool.model_argument = entry["model_argument"]
        tool.render = renderer_for(output)
        return tool


def _one_paragraph(doc: str | None) -> str:
    """A docstring as the tool description: its lines joined, indentation gone."""
    return " ".join((doc or "").split())
