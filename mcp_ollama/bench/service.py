"""`BenchService`: benchmarks and comparisons on the built-in suite (or given prompts), one at
a time across every caller, each saved as a report. With several hosts a model runs on the host
routing picks (pinned for the whole run), on `host`, or, in a comparison, on each of `hosts`."""

from __future__ import annotations

import os
import platform
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import structlog

from mcp_ollama.bench.benchmark import Target, check_models, compare_targets, run_benchmark
from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.bench.suite import BenchmarkPlan, build_prompts
from mcp_ollama.errors import InvalidInputError, MCPOllamaError, StorageError
from mcp_ollama.events import ChangeFeed
from mcp_ollama.fleet import Fleet, Host
from mcp_ollama.generation import (
    KeepAlive,
    PresetBook,
    ResolvedOptions,
    check_keep_alive,
    validate_options,
)
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.settings import Settings

__all__ = ["BenchService", "Exclusive"]

logger = structlog.get_logger()

Exclusive = Callable[[str], AbstractAsyncContextManager[None]]
"""Holds a named lock shared by every server process on the data directory (a lease)."""


class BenchService:
    """Measures models with Ollama's own counters and keeps the reports."""

    def __init__(
        self,
        settings: Settings,
        fleet: Fleet,
        *,
        presets: PresetBook,
        reports: ReportStore,
        app_version: str = "",
        changes: ChangeFeed | None = None,
        exclusive: Exclusive | None = None,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self.presets = presets
        self.reports = reports
        self.app_version = app_version
        self.changes = changes or ChangeFeed()
        # One benchmark at a time across every caller, and on a daemon across every server
        # process on this data directory (`exclusive`): concurrent runs on one GPU would skew
        # each other's figures.
        self._benchmark_lock = anyio.Lock()
        self._exclusive = exclusive

    @asynccontextmanager
    async def _one_at_a_time(self, hosts: Sequence[Host]) -> AsyncIterator[None]:
        """Hold the daemons of a run: in this process, then across processes (in the order of
        their addresses, so two processes never wait for each other's second daemon)."""
        async with self._benchmark_lock, AsyncExitStack() as stack:
            addresses = sorted({host.config.base_url for host in hosts})
            if self._exclusive is not None:
                try:
                    for address in addresses:
                        await stack.enter_async_context(self._exclusive(f"benchmark:{address}"))
                except StorageError as exc:  # the database is unusable: one process at least
                    logger.warning("benchmark not coordinated with other servers", error=str(exc))
            yield

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
        host: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BenchmarkResult:
        """Benchmark one model on the built-in suite (or `prompts`), on `host` or the host
        routing picks, saving a report.

        Raises:
            InvalidInputError: a bad name, option, prompt or run count.
            ModelNotFoundError: the model is not pulled.
            OllamaError: a run failed.
            StorageError: the report could not be saved.
        """
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        target = self.fleet.host(host) if host is not None else await self.fleet.route(model)
        async with self._one_at_a_time([target]):
            result = await run_benchmark(
                target.client,
                model,
                plan,
                resolve,
                keep_alive=keep_alive,
                on_progress=on_progress,
                host=self._label(target),
            )
        result.environment = await self.environment([target])
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
        hosts: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ComparisonResult:
        """Run the same suite on 2..N models one after another, rank them, save a report. With
        `hosts`, each model runs on each of those hosts and the machines are ranked too (one
        model on two hosts is enough).

        Raises:
            InvalidInputError: fewer than two models (or model-host pairs), a bad name, option,
                prompt, run count or host.
            StorageError: the report could not be saved.
        """
        names = check_models(models, at_least=1 if hosts else 2, hosts=not self.fleet.single)
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        if hosts:
            chosen = self.fleet.select(hosts)
            targets = [Target(n, h.client, self._label(h)) for n in names for h in chosen]
        else:
            routed = [await self._routed(name) for name in names]
            targets = [target for target, _ in routed]
            chosen = list(dict.fromkeys(host for _, host in routed if host is not None))
        async with self._one_at_a_time(chosen or [self.fleet.primary]):
            result = await compare_targets(
                targets, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
            )
        result.environment = await self.environment(chosen or [self.fleet.primary])
        if not save_report:
            return result
        saved = await anyio.to_thread.run_sync(self.reports.save_comparison, result)
        self.changes.report_saved(saved.report_id or "")
        return saved

    async def environment(self, hosts: Sequence[Host]) -> dict[str, str]:
        """Where the figures were measured: versions, the daemons' addresses, OS and CPUs (of
        this machine: a remote host's are not known)."""
        versions = [await _version(host) for host in hosts]
        if self.fleet.single:
            ollama, where = versions[0], hosts[0].config.base_url
        else:
            ollama = ", ".join(f"{h.name} {v}" for h, v in zip(hosts, versions, strict=True))
            where = ", ".join(f"{h.name}={h.config.base_url}" for h in hosts)
        return {
            "ollama": ollama,
            "mcp_ollama": self.app_version or "unknown",
            "host": where,
            "os": f"{platform.system()} {platform.release()}".strip(),
            "machine": platform.machine() or "unknown",
            "cpus": str(os.cpu_count() or "unknown"),
            "python": platform.python_version(),
        }

    async def _routed(self, model: str) -> tuple[Target, Host | None]:
        """`model` on the host a call for it would go to; a model no host has is reported as
        failed in the comparison."""
        try:
            host = await self.fleet.route(model)
        except MCPOllamaError as exc:
            return Target(model, None, error=str(exc)), None
        return Target(model, host.client, self._label(host)), host

    def _label(self, host: Host) -> str | None:
        return None if self.fleet.single else host.name

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


async def _version(host: Host) -> str:
    try:
        return (await host.client.version(retries=0)).version
    except MCPOllamaError:
        return "unknown"
