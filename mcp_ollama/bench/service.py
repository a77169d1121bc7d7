"""`BenchService`: benchmarks and comparisons on the built-in suite (or given prompts), one at
a time across every caller, each saved as a report."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread

from mcp_ollama.bench.benchmark import compare_models, run_benchmark
from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.bench.suite import BenchmarkPlan, build_prompts
from mcp_ollama.errors import InvalidInputError, MCPOllamaError
from mcp_ollama.events import ChangeFeed
from mcp_ollama.generation import (
    KeepAlive,
    PresetBook,
    ResolvedOptions,
    check_keep_alive,
    validate_options,
)
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.settings import Settings

__all__ = ["BenchService"]


class BenchService:
    """Measures models with Ollama's own counters and keeps the reports."""

    def __init__(
        self,
        settings: Settings,
        client: OllamaClient,
        *,
        presets: PresetBook,
        reports: ReportStore,
        app_version: str = "",
        changes: ChangeFeed | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.presets = presets
        self.reports = reports
        self.app_version = app_version
        self.changes = changes or ChangeFeed()
        # One benchmark at a time across every caller: concurrent runs on one GPU would skew
        # each other's figures.
        self._benchmark_lock = anyio.Lock()

    async def benchmark(
        self,
        model: str,
        *,
        prompts: Sequence[str] | None = None,
        runs: int = 3,
        warmup: int = 1,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        keep_alive: KeepAlive = None,
        save_report: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> BenchmarkResult:
        """Benchmark one model on the built-in suite (or `prompts`), saving a report.

        Raises:
            InvalidInputError: a bad name, option, prompt or run count.
            ModelNotFoundError: the model is not pulled.
            OllamaError: a run failed.
            StorageError: the report could not be saved.
        """
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        async with self._benchmark_lock:
            result = await run_benchmark(
                self.client, model, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
            )
        result.environment = await self.environment()
        if not save_report:
            return result
        saved = await anyio.to_thread.run_sync(self.reports.save_benchmark, result)
        self.changes.report_saved(saved.report_id or "")
        return saved

    async def compare(
        self,
        models: Sequence[str],
        *,
        prompts: Sequence[str] | None = None,
        runs: int = 3,
        warmup: int = 1,
        preset: str | None = None,
        options: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        keep_alive: KeepAlive = None,
        save_report: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> ComparisonResult:
        """Run the same suite on 2..N models one after another, rank them, save a report.

        Raises:
            InvalidInputError: fewer than two models, a bad name, option, prompt or run count.
            StorageError: the report could not be saved.
        """
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        async with self._benchmark_lock:
            result = await compare_models(
                self.client, models, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
            )
        result.environment = await self.environment()
        if not save_report:
            return result
        saved = await anyio.to_thread.run_sync(self.reports.save_comparison, result)
        self.changes.report_saved(saved.report_id or "")
        return saved

    async def environment(self) -> dict[str, str]:
        """Where the figures were measured: versions, the daemon's address, OS and CPUs."""
        try:
            ollama = (await self.client.version(retries=0)).version
        except MCPOllamaError:
            ollama = "unknown"
        return {
            "ollama": ollama,
            "mcp_ollama": self.app_version or "unknown",
            "host": self.settings.base_url,
            "os": f"{platform.system()} {platform.release()}".strip(),
            "machine": platform.machine() or "unknown",
            "cpus": str(os.cpu_count() or "unknown"),
            "python": platform.python_version(),
        }

    def _benchmark_plan(
        self, prompts: Sequence[str] | None, runs: int, warmup: int, preset: str | None
    ) -> BenchmarkPlan:
        if preset:
            self.presets.get(preset)  # an unknown preset fails before any run
        chosen = build_prompts(prompts, max_chars=self.settings.max_prompt_chars)
        return BenchmarkPlan(prompts=chosen, runs=runs, warmup=warmup, preset=preset)

    def _benchmark_resolver(
        self, preset: str | None, options: dict[str, Any] | None, max_tokens: int | None
    ) -> Callable[[str], ResolvedOptions]:
        explicit = dict(options or {})
        if max_tokens is not None:
            if max_tokens < 1:
                raise InvalidInputError(f"max_tokens must be at least 1, not {max_tokens}")
            explicit["num_predict"] = max_tokens
        validate_options(explicit)
        return lambda model: self.presets.resolve(model, preset=preset, options=explicit)
