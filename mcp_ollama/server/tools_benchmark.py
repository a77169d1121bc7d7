"""Benchmark, comparison, report and preset tools."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult
from mcp_ollama.bench.reports import ReportKind, ReportList
from mcp_ollama.bench.suite import MAX_MODELS, MAX_PROMPTS, MAX_RUNS, MAX_WARMUP
from mcp_ollama.errors import InvalidInputError
from mcp_ollama.generation.options import Preset
from mcp_ollama.generation.presets_config import (
    ConfigCheck,
    ConfigFormat,
    check_config,
    config_tables,
    export_data,
    parse_config,
    to_toml,
)
from mcp_ollama.server._common import (
    LOCAL_READ,
    LOCAL_WRITE,
    SAVES_REPORT,
    progress_callback,
    service_of,
    tool_errors,
)
from mcp_ollama.server.apps import REPORT_VIEW_META
from mcp_ollama.settings import config_file_path

__all__ = ["register_benchmark_tools"]

Model = Annotated[
    str, Field(min_length=1, max_length=256, description="Installed model, e.g. 'llama3.2:1b'")
]
Prompts = Annotated[
    list[str] | None,
    Field(
        max_length=MAX_PROMPTS,
        description="Your own prompts; default: the built-in suite (short, long_context, code)",
    ),
]
Runs = Annotated[
    int, Field(ge=1, le=MAX_RUNS, description="Measured runs per prompt (figures use these)")
]
Warmup = Annotated[
    int,
    Field(ge=0, le=MAX_WARMUP, description="Unmeasured runs per prompt first (loads the model)"),
]
Preset_ = Annotated[
    str | None,
    Field(description="Named preset: fast, creative, balanced, precise, long_form or a user one"),
]
Options = Annotated[
    dict[str, Any] | None,
    Field(description="Ollama options (temperature, num_ctx, seed, ...); they override the preset"),
]
MaxTokens = Annotated[
    int | None,
    Field(
        ge=1,
        le=32_768,
        description="Output tokens per run (num_predict; wins over options); default: the "
        "preset's, else 256",
    ),
]
SaveReport = Annotated[
    bool, Field(description="Save the report (JSON, Markdown, HTML) to read as reports://{id}")
]


class PresetList(BaseModel):
    """Every preset: built-in ones and those from configuration."""

    presets: list[Preset]
    precedence: str = Field(
        "explicit options > preset > per-model defaults (config file) > Ollama's defaults",
        description="How options are merged",
    )


class ReportContent(BaseModel):
    """One saved report, as JSON text or Markdown."""

    id: str
    format: Literal["json", "markdown"]
    content: str


class ConfigExport(BaseModel):
    """The configuration (user presets and per-model defaults), ready for config.toml."""

    toml: str = Field(description="Paste into the config file to keep it")
    config: dict[str, Any] = Field(description="The same as JSON")
    config_id: str = Field(description="Id of the saved copy (import_config config_id=...)")
    path: str = Field(description="Where the copy was saved")
    config_file: str = Field(description="The config file the server reads at start")


class ConfigImport(BaseModel):
    """What an import changed."""

    presets: list[str] = Field(description="Presets added or replaced")
    models: list[str] = Field(description="Models whose default options were set")
    message: str


def register_benchmark_tools(mcp: MCPServer[Any]) -> None:
    """Register benchmark_model, compare_models and the report and preset tools."""

    @mcp.tool(annotations=SAVES_REPORT, meta=REPORT_VIEW_META)
    async def benchmark_model(
        model: Model,
        ctx: Context[Any, Any],
        prompts: Prompts = None,
        runs: Runs = 3,
        warmup: Warmup = 1,
        preset: Preset_ = None,
        options: Options = None,
        max_tokens: MaxTokens = None,
        save_report: SaveReport = True,
    ) -> BenchmarkResult:
        """Measure a local model's speed with Ollama's own counters: load time, time to first
        token, prompt-eval and generation tokens/s, durations (mean, median, p95, min, max).
        Sends one progress notification per run; the report is saved for reports://{id}."""
        with tool_errors():
            return await service_of(ctx).bench.benchmark(
                model,
                prompts=prompts,
                runs=runs,
                warmup=warmup,
                preset=preset,
                options=options,
                max_tokens=max_tokens,
                save_report=save_report,
                on_progress=progress_callback(ctx),
            )

    @mcp.tool(annotations=SAVES_REPORT, meta=REPORT_VIEW_META)
    async def compare_models(
        models: Annotated[
            list[str],
            Field(min_length=2, max_length=MAX_MODELS, description="2 or more installed models"),
        ],
        ctx: Context[Any, Any],
        prompts: Prompts = None,
        runs: Runs = 2,
        warmup: Warmup = 1,
        preset: Preset_ = None,
        options: Options = None,
        max_tokens: MaxTokens = None,
        save_report: SaveReport = True,
    ) -> ComparisonResult:
        """Run the same prompts on several local models one after another: per-model metrics,
        a ranking per metric, and each model's answers for quality review. A model that fails
        is reported as failed; the others still run. The report includes an SVG chart."""
        with tool_errors():
            return await service_of(ctx).bench.compare(
                models,
                prompts=prompts,
                runs=runs,
                warmup=warmup,
                preset=preset,
                options=options,
                max_tokens=max_tokens,
                save_report=save_report,
                on_progress=progress_callback(ctx),
            )

    @mcp.tool(annotations=LOCAL_READ)
    async def list_reports(
        ctx: Context[Any, Any],
        kind: Annotated[
            ReportKind | None, Field(description="Only 'benchmark' or 'comparison' reports")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many")] = 20,
    ) -> ReportList:
        """List saved benchmark and comparison reports, newest first, with their resource URIs."""
        with tool_errors():
            store = service_of(ctx).reports
            return await anyio.to_thread.run_sync(store.list_reports, kind, limit)

    @mcp.tool(annotations=LOCAL_READ)
    async def get_report(
        report_id: Annotated[
            str, Field(min_length=1, max_length=128, description="An id from list_reports")
        ],
        ctx: Context[Any, Any],
        format: Annotated[
            Literal["json", "markdown"], Field(description="'markdown' (tables) or 'json'")
        ] = "markdown",
    ) -> ReportContent:
        """Read a saved report (also readable as the resources reports://{id} and
        reports://{id}/markdown)."""
        with tool_errors():
            store = service_of(ctx).reports
            read = store.get_markdown if format == "markdown" else store.get_json_text
            content = await anyio.to_thread.run_sync(read, report_id)
            return ReportContent(id=report_id, format=format, content=content)

    @mcp.tool(annotations=LOCAL_READ)
    async def list_presets(ctx: Context[Any, Any]) -> PresetList:
        """List the generation presets (built-in and from configuration) with their options."""
        return PresetList(presets=list(service_of(ctx).presets.presets.values()))

    @mcp.tool(annotations=LOCAL_READ)
    async def validate_config(
        content: Annotated[
            str, Field(description="A configuration: config.toml text, or the same shape as JSON")
        ],
        format: Annotated[
            ConfigFormat | None, Field(description="'toml' or 'json'; guessed when omitted")
        ] = None,
    ) -> ConfigCheck:
        """Check a configuration (presets, per-model options, settings) without applying it."""
        with tool_errors():
            return check_config(parse_config(content, format))

    @mcp.tool(annotations=SAVES_REPORT)
    async def export_config(ctx: Context[Any, Any]) -> ConfigExport:
        """Export the user presets and per-model default options as config.toml text (and
        JSON), saving a copy in the data directory's configs/."""
        with tool_errors():
            service = service_of(ctx)
            data = export_data(service.presets)
            text = to_toml(data)
            path = await anyio.to_thread.run_sync(service.reports.save_config, text)
            return ConfigExport(
                toml=text,
                config=data,
                config_id=path.stem,
                path=str(path),
                config_file=str(config_file_path()),
            )

    @mcp.tool(annotations=LOCAL_WRITE)
    async def import_config(
        ctx: Context[Any, Any],
        content: Annotated[
            str | None,
            Field(description='[presets.NAME] / [models."NAME"] tables as TOML, or as JSON'),
        ] = None,
        config_id: Annotated[
            str | None, Field(description="Or: the id of a configuration export_config saved")
        ] = None,
        format: Annotated[
            ConfigFormat | None, Field(description="'toml' or 'json'; guessed when omitted")
        ] = None,
    ) -> ConfigImport:
        """Add presets and per-model default options to the running server, all or nothing.
        They last until the server restarts; add them to the config file to keep them."""
        with tool_errors():
            service = service_of(ctx)
            if content is not None and config_id is None:
                text = content
            elif config_id is not None and content is None:
                text = await anyio.to_thread.run_sync(service.reports.get_config, config_id)
            else:
                raise InvalidInputError("pass either `content` or `config_id` (one of them)")
            presets, models = config_tables(parse_config(text, format))
            service.presets.merge(presets, models)
            return ConfigImport(
                presets=sorted(presets),
                models=sorted(models),
                message=f"imported {len(presets)} preset(s) and defaults for {len(models)} "
                f"model(s); they last until the server restarts; to keep them, add them to "
                f"{config_file_path()}",
            )
