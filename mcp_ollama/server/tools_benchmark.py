"""Benchmark, comparison, report and preset tools."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult
from mcp_ollama.bench.reports import ReportKind, ReportList
from mcp_ollama.bench.suite import MAX_MODELS, MAX_PROMPTS, MAX_RUNS, MAX_WARMUP
from mcp_ollama.errors import InvalidInputError
from mcp_ollama.generation.config_file import persist_tables
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
from mcp_ollama.server.params import (
    SEVERAL_HOSTS_ONLY,
    Host,
    Hosts,
    Model,
    Options,
    Preset,
    Timeout,
)
from mcp_ollama.server.tool_results import ConfigExport, ConfigImport, PresetList, ReportContent
from mcp_ollama.server.toolbox import ToolBox
from mcp_ollama.settings import config_file_path

__all__ = ["register_benchmark_tools"]

Prompts = Annotated[
    list[str] | None,
    Field(max_length=MAX_PROMPTS, description="Default: a built-in suite of 3"),
]
Runs = Annotated[int, Field(ge=1, le=MAX_RUNS, description="Measured runs per prompt")]
Warmup = Annotated[int, Field(ge=0, le=MAX_WARMUP, description="Unmeasured runs first")]
MaxTokens = Annotated[
    int | None, Field(ge=1, le=32_768, description="num_predict per run (default 256)")
]
SaveReport = Annotated[bool, Field(description="Save the report")]
# What hosts change about a comparison is said by the `hosts` argument, which is listed only with
# several hosts: with one, nothing in compare_models mentions hosts.
CompareHosts = Annotated[
    list[str] | None,
    Field(
        min_length=1, max_length=16, description="Host names: rank the machines (1 model is enough)"
    ),
    SEVERAL_HOSTS_ONLY,
]


def register_benchmark_tools(box: ToolBox) -> None:
    """Register benchmark_model, compare_models and the report and preset tools."""

    @box.tool(annotations=SAVES_REPORT, meta=REPORT_VIEW_META)
    async def benchmark_model(
        model: Model,
        ctx: Context[Any, Any],
        prompts: Prompts = None,
        runs: Runs = 3,
        warmup: Warmup = 1,
        preset: Preset = None,
        options: Options = None,
        max_tokens: MaxTokens = None,
        save_report: SaveReport = True,
        timeout: Timeout = None,
        host: Host = None,
        hosts: Hosts = None,
    ) -> BenchmarkResult:
        """Measure a model's speed (tokens/s, time to first token, load); saves a report."""
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
                host=host,
                hosts=hosts,
                timeout=timeout,
                on_progress=progress_callback(ctx),
            )

    @box.tool(annotations=SAVES_REPORT, meta=REPORT_VIEW_META)
    async def compare_models(
        models: Annotated[
            list[str],
            Field(min_length=1, max_length=MAX_MODELS, description="2+ models"),
        ],
        ctx: Context[Any, Any],
        prompts: Prompts = None,
        runs: Runs = 2,
        warmup: Warmup = 1,
        preset: Preset = None,
        options: Options = None,
        max_tokens: MaxTokens = None,
        save_report: SaveReport = True,
        timeout: Timeout = None,
        hosts: CompareHosts = None,
    ) -> ComparisonResult:
        """Run the same prompts on several models to choose one: speed per model, the
        winners, a report with the answers."""
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
                hosts=hosts,
                timeout=timeout,
                on_progress=progress_callback(ctx),
            )

    @box.tool(annotations=LOCAL_READ)
    async def list_reports(
        ctx: Context[Any, Any],
        kind: Annotated[ReportKind | None, Field(description="Only this kind")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many")] = 20,
    ) -> ReportList:
        """List saved benchmark and comparison reports, newest first."""
        with tool_errors():
            store = service_of(ctx).reports
            return await anyio.to_thread.run_sync(store.list_reports, kind, limit)

    @box.tool(annotations=LOCAL_READ)
    async def get_report(
        report_id: Annotated[
            str, Field(min_length=1, max_length=128, description="An id from list_reports")
        ],
        ctx: Context[Any, Any],
        format: Annotated[
            Literal["json", "markdown"], Field(description="markdown tables or json")
        ] = "markdown",
    ) -> ReportContent:
        """Read a saved benchmark or comparison report (Markdown tables, or JSON)."""
        with tool_errors():
            store = service_of(ctx).reports
            read = store.get_markdown if format == "markdown" else store.get_json_text
            content = await anyio.to_thread.run_sync(read, report_id)
            return ReportContent(id=report_id, format=format, content=content)

    @box.tool(annotations=LOCAL_READ)
    async def list_presets(ctx: Context[Any, Any]) -> PresetList:
        """List the generation presets (built-in and configured) with their options."""
        return PresetList(presets=list(service_of(ctx).presets.presets.values()))

    @box.tool(annotations=LOCAL_READ)
    async def validate_config(
        content: Annotated[str, Field(description="config.toml text, or the same as JSON")],
        format: Annotated[ConfigFormat | None, Field(description="Guessed when left out")] = None,
    ) -> ConfigCheck:
        """Check a configuration (presets, per-model options, settings) without applying it."""
        with tool_errors():
            return check_config(parse_config(content, format))

    @box.tool(annotations=SAVES_REPORT)
    async def export_config(ctx: Context[Any, Any]) -> ConfigExport:
        """Export the configured presets and per-model options as config.toml text, and save
        a copy."""
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

    @box.tool(annotations=LOCAL_WRITE)
    async def import_config(
        ctx: Context[Any, Any],
        content: Annotated[
            str | None, Field(description='[presets.NAME] / [models."NAME"] tables, TOML or JSON')
        ] = None,
        config_id: Annotated[str | None, Field(description="Or an id export_config saved")] = None,
        format: Annotated[ConfigFormat | None, Field(description="Guessed when left out")] = None,
        persist: Annotated[bool, Field(description="Also save to the config file")] = False,
    ) -> ConfigImport:
        """Add presets and per-model options for every server on this data directory (all or
        nothing); with persist, to the config file instead, keeping its comments."""
        with tool_errors():
            service = service_of(ctx)
            if content is not None and config_id is None:
                text = content
            elif config_id is not None and content is None:
                text = await anyio.to_thread.run_sync(service.reports.get_config, config_id)
            else:
                raise InvalidInputError("pass either `content` or `config_id` (one of them)")
            presets, models = config_tables(parse_config(text, format))
            if persist:  # first: a file that cannot be written leaves the server unchanged too
                written = await anyio.to_thread.run_sync(
                    persist_tables, config_file_path(), presets, models
                )
                service.presets.merge(presets, models)
                kept = f"saved to {written}"
            else:
                layer = await anyio.to_thread.run_sync(
                    service.presets.import_tables, presets, models
                )
                kept = f"kept in {layer} for every server on this data directory (persist=true "
                kept += "saves them in the config file)"
            return ConfigImport(
                presets=sorted(presets),
                models=sorted(models),
                message=f"imported {len(presets)} preset(s) and defaults for {len(models)} "
                f"model(s); {kept}",
            )
