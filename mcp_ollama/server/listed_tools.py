"""The tools as `tools/list` shows them, read from the shipped `tool_manifest.json`.

Building a tool from its function (pydantic's argument model and its JSON schema, for each tool)
was most of what the server did before it could answer its first `tools/list`. The manifest
holds what the list shows, generated from those same builds; `tests/test_tool_manifest.py`
checks it against a fresh build. A `ListedTool` is built from its function on its first call
(`toolbox.ToolBox`: strict arguments, default model, renderer), and every call goes to that.

After changing a tool (its arguments, docstring, result type or annotations), regenerate:
`python -m mcp_ollama.server.write_manifest`.

The schemas are pydantic's and the SDK's output, so the manifest names the versions that made
it; under any other version the server builds the tools' entries at start instead (slower, never
stale), and regenerating brings the fast start back.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

import pydantic_core
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import ToolAnnotations
from pydantic import VERSION as PYDANTIC_VERSION
from pydantic import PrivateAttr

from mcp_ollama.settings import Settings
from mcp_ollama.toolsets import TOOLS

__all__ = [
    "MANIFEST",
    "REGISTRARS",
    "ListedTool",
    "ManifestEntry",
    "ToolEntry",
    "built_with",
    "fresh_manifest",
    "listed_tools",
    "manifest_text",
    "read_manifest",
    "shaped",
]

MANIFEST = Path(__file__).with_name("tool_manifest.json")
# Where the tools are declared (`module.function`, in this folder), in the order they are built.
REGISTRARS = (
    "tools_generation.register_generation_tools",
    "tools_models.register_model_tools",
    "tools_benchmark.register_benchmark_tools",
    "tools_sessions.register_session_tools",
    "tools_health.register_health_tools",
)
REGENERATE = "python -m mcp_ollama.server.write_manifest"


class ToolEntry(TypedDict):
    """What a tool's function declares, whatever the settings."""

    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: dict[str, Any]
    meta: dict[str, Any] | None
    arguments: list[str]
    model_argument: str | None
    several_hosts_only: list[str]
    several_hosts_results: list[str]


class ManifestEntry(ToolEntry):
    """A tool's entry in the manifest: what it declares, and which registrar declares it."""

    registrar: str


class Shape(NamedTuple):
    """A tool as these settings serve it."""

    parameters: dict[str, Any]
    output_schema: dict[str, Any]
    accepted: tuple[str, ...]
    default_model: str | None


def shaped(entry: ToolEntry, settings: Settings) -> Shape:
    """The input and result schemas and accepted arguments under these settings: host arguments
    and results only when several hosts are configured, and `model` optional when a default
    model is."""
    parameters = dict(entry["input_schema"])
    results = entry["output_schema"]
    accepted = tuple(entry["arguments"])
    if len(settings.host_configs()) == 1:
        hidden = entry["several_hosts_only"]
        accepted = tuple(name for name in accepted if name not in hidden)
        parameters["properties"] = _without(parameters["properties"], hidden)
        results = {
            **results,
            "properties": _without(results["properties"], entry["several_hosts_results"]),
        }
    argument = entry["model_argument"]
    default_model = settings.default_model if argument is not None else None
    if argument is not None and default_model:
        # With a default model configured, `model` may be left out: the schema says which.
        required = [name for name in parameters.get("required", []) if name != argument]
        if required:
            parameters["required"] = required
        else:
            parameters.pop("required", None)
        properties = dict(parameters["properties"])
        properties[argument] = {**properties[argument], "default": default_model}
        parameters["properties"] = properties
    return Shape(parameters, results, accepted, default_model or None)


def _without(properties: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {name: schema for name, schema in properties.items() if name not in names}


class ListedTool(Tool):
    """A tool as `tools/list` shows it, from the manifest; built from its function on its first
    call, which (like every later one) goes to the built tool."""

    _build: Callable[[], Tool] | None = PrivateAttr(default=None)
    _built: Tool | None = PrivateAttr(default=None)

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        """Build the tool on its first call, then run it."""
        if self._built is None:
            assert self._build is not None
            self._built = self._build()
        return await self._built.run(arguments, context, convert_result=convert_result)


class Manifest(TypedDict):
    """The manifest file: the library versions that generated it, and every tool's entry."""

    built_with: dict[str, str]
    tools: dict[str, ManifestEntry]


def built_with() -> dict[str, str]:
    """The versions of the libraries whose output the manifest holds, as installed now."""
    return {
        "mcp": importlib.metadata.version("mcp"),
        "pydantic": PYDANTIC_VERSION,
        "pydantic-core": pydantic_core.__version__,
    }


def read_manifest(path: Path = MANIFEST) -> Manifest:
    """The manifest at `path` (the shipped one by default)."""
    manifest: Manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def listed_tools(settings: Settings, manifest_path: Path = MANIFEST) -> list[Tool]:
    """The enabled tools, in the order of `toolsets.TOOLS`, ready to list; none is built yet."""
    shipped = read_manifest(manifest_path)
    manifest = shipped["tools"]
    if shipped["built_with"] != built_with():
        manifest = fresh_manifest(settings)
    tools: list[Tool] = []
    for name in settings.enabled_tools:
        entry = manifest.get(name)
        if entry is None:
            raise RuntimeError(f"tool {name!r} is missing from {MANIFEST.name}: run {REGENERATE}")
        shape = shaped(entry, settings)
        tool = ListedTool(
            fn=_unbuilt,
            name=name,
            description=entry["description"],
            parameters=shape.parameters,
            # What `tools/list` reads of it: the result schema. `run` validates the arguments
            # with the built tool's model, not this empty one.
            fn_metadata=FuncMetadata(arg_model=ArgModelBase, output_schema=shape.output_schema),
            is_async=True,
            annotations=ToolAnnotations.model_validate(entry["annotations"]),
            meta=entry["meta"],
        )
        tool._build = partial(_build_tool, settings, name, entry["registrar"])
        tools.append(tool)
    return tools


async def _unbuilt(**_: Any) -> None:
    raise AssertionError("a listed tool runs the tool built from its function")


def _registrar(path: str) -> Callable[[Any], None]:
    module, function = path.rsplit(".", 1)
    register: Callable[[Any], None] = getattr(
        importlib.import_module(f"mcp_ollama.server.{module}"), function
    )
    return register


def _build_tool(settings: Settings, name: str, registrar: str) -> Tool:
    """The tool `name` built from its function, as its registrar declares it."""
    from mcp_ollama.server.toolbox import ToolBox

    box = ToolBox(settings, enabled=(name,))
    _registrar(registrar)(box)
    [tool] = box.tools
    return tool


def fresh_manifest(settings: Settings | None = None) -> dict[str, ManifestEntry]:
    """Every tool's entry, built from its function now: what the manifest must hold (entries do
    not depend on the settings; the server's own spare reading them again)."""
    from mcp_ollama.server.toolbox import ToolBox

    settings = settings or Settings()
    manifest: dict[str, ManifestEntry] = {}
    for path in REGISTRARS:
        box = ToolBox(settings, enabled=TOOLS)
        _registrar(path)(box)
        for name, entry in box.entries.items():
            manifest[name] = {**entry, "registrar": path}
    missing = [name for name in TOOLS if name not in manifest]
    if missing:
        raise RuntimeError(f"no registrar declares {', '.join(missing)}: see REGISTRARS")
    return {name: manifest[name] for name in TOOLS}


def manifest_text(tools: dict[str, ManifestEntry]) -> str:
    """The manifest of these entries as it is written: the installed versions, then the entries
    in listing order, indented, one trailing newline."""
    manifest: Manifest = {"built_with": built_with(), "tools": tools}
    return json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
