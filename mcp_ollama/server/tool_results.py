"""Results of the tools whose answer the server itself assembles (presets, reports, config)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mcp_ollama.generation.options import Preset
from mcp_ollama.results import Result

__all__ = ["ConfigExport", "ConfigImport", "PresetList", "ReportContent"]


class PresetList(Result):
    """Every preset: built-in ones and those from configuration."""

    presets: list[Preset]
    precedence: str = Field(
        "explicit options > preset > per-model defaults (config file) > Ollama's defaults",
        description="How options are merged",
    )


class ReportContent(Result):
    """One saved report, as JSON text or Markdown."""

    id: str
    format: Literal["json", "markdown"]
    content: str


class ConfigExport(Result):
    """The configuration (user presets and per-model defaults), ready for config.toml."""

    toml: str = Field(description="Paste into the config file to keep it")
    config: dict[str, Any] = Field(description="The same as JSON")
    config_id: str = Field(description="Id of the saved copy (import_config config_id=...)")
    path: str = Field(description="Where the copy was saved")
    config_file: str = Field(description="The config file the server reads at start")


class ConfigImport(Result):
    """What an import changed."""

    presets: list[str] = Field(description="Presets added or replaced")
    models: list[str] = Field(description="Models whose default options were set")
    message: str
