"""`BenchService`: benchmarks and comparisons on the built-in suite (or given prompts), one at
a time across every caller, each saved as a report. Every run goes through the fleet like a
generation (auto-start, busy retries, auto-pull, routing and failover): a model runs on `host`,
on each of `hosts` (one model on several hosts ranks the machines), or where routing sends its
first run, and the rest of its runs follow it there. A call's `timeout` bounds all of it, waiting
for another benchmark included, but not the saving of the report."""

from __future__ import annotations

import os
import platform
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import structlog

from mcp_ollama.bench.benchmark import BENCH_ADVICE, Target, compare_targets, run_benchmark
from mcp_ollama.bench.measure import Measured, measure_stream
from mcp_ollama.bench.metrics import BenchmarkResult, ComparisonResult, across_hosts
from mcp_ollama.bench.reports import ReportStore
from mcp_ollama.bench.suite import BenchmarkPlan, build_prompts, check_models
from mcp_ollama.deadline import call_deadline, pending
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
from mcp_ollama.ollama.names import validate_model_name
from mcp_ollama.ollama.types import GenerateRequest
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.settings import Settings

__all__ = ["BenchService", "Exclusive", "Puller"]

logger = structlog.get_logger()

Exclusive = Callable[[str], AbstractAsyncContextManager[None]]
"""Holds a named lock shared by every server process on the data directory (a lease)."""
Puller = Callable[[Host, str, ProgressCallback | None], Awaitable[object]]
"""Pulls a model on a host (the auto-pull of a missing one), reporting through the callback."""
Saved = TypeVar("Saved", BenchmarkResult, ComparisonResult)
WAITING = "waiting for another benchmark on the same Ollama to finish (they run one at a time)"
WAITING_ADVICE = "Call again once it has finished, or pass a larger `timeout`"


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
        pull: Puller | None = None,
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
        self._pull = pull

    @asynccontextmanager
    async def _one_at_a_time(self, hosts: Sequence[Host]) -> AsyncIterator[None]:
        """Hold the daemons of a run: in this process, then across processes (in the order of
        their addresses, so two processes never wait for each other's second daemon)."""
        async with AsyncExitStack() as stack:
            with pending(WAITING, WAITING_ADVICE):
                await stack.enter_async_context(self._benchmark_lock)
                if self._exclusive is not None:
                    try:
                        for address in sorted({host.config.base_url for host in hosts}):
                            lease = self._exclusive(f"benchmark:{address}")
                            await stack.enter_async_context(lease)
                    except StorageError as exc:  # the database is unusable: one process at least
                        logger.warning(
                            "benchmark not coordinated with other servers", error=str(exc)
                        )
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
        hosts: Sequence[str] | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BenchmarkResult:
        """Benchmark one model on the built-in suite (or `prompts`), on `host`, on each of
        `hosts` (ranking the machines), or where routing sends it, saving a report; a failed run
        is recorded and the others go on.

        Raises:
            InvalidInputError: a bad name, option, prompt, run count or host.
            MCPOllamaError: no measured run finished (on any host): nothing is saved.
            CallTimeoutError: `timeout` ran out.
            StorageError: the report could not be saved.
        """
        model = validate_model_name(model)
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        if host is not None and hosts:
            raise InvalidInputError("pass `host` (one machine) or `hosts` (several), not both")
        pinned = [self.fleet.host(host)] if host is not None else self.fleet.select(hosts or [])
        if len(pinned) > 1:
            targets = [self._target(model, one) for one in pinned]
            compared = await self._compare(
                targets, plan, resolve, keep_alive, pinned, timeout, "benchmark_model", on_progress
            )
            saved = await self._save(self.reports.save_comparison, compared, save_report)
            return across_hosts(model, saved)
        with call_deadline(timeout, "benchmark_model", BENCH_ADVICE):
            async with self._one_at_a_time(pinned or self.fleet.hosts):
                result = await run_benchmark(
                    self._target(model, pinned[0] if pinned else None),
                    plan,
                    resolve,
                    keep_alive=keep_alive,
                    on_progress=on_progress,
                )
            result.environment = await self.environment(self._ran_on([result.host]))
        return await self._save(self.reports.save_benchmark, result, save_report)

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
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ComparisonResult:
        """Run the same suite on 2..N models one after another, rank them, save a report. With
        `hosts`, each model runs on each of those hosts and the machines are ranked too (one
        model on two hosts is enough). A model that fails is reported and the others still run.

        Raises:
            InvalidInputError: fewer than two models (or model-host pairs), a bad name, option,
                prompt, run count or host.
            MCPOllamaError: no model finished: nothing is saved.
            CallTimeoutError: `timeout` ran out.
            StorageError: the report could not be saved.
        """
        names = check_models(models, at_least=1 if hosts else 2, hosts=not self.fleet.single)
        plan = self._benchmark_plan(prompts, runs, warmup, preset)
        resolve = self._benchmark_resolver(preset, options, max_tokens)
        keep_alive = check_keep_alive(keep_alive)
        chosen = self.fleet.select(hosts) if hosts else []
        pins: list[Host | None] = [*chosen] or [None]  # None: where routing sends each model
        targets = [self._target(name, pin) for name in names for pin in pins]
        compared = await self._compare(
            targets, plan, resolve, keep_alive, chosen, timeout, "compare_models", on_progress
        )
        return await self._save(self.reports.save_comparison, compared, save_report)

    async def _compare(
        self,
        targets: Sequence[Target],
        plan: BenchmarkPlan,
        resolve: Callable[[str], ResolvedOptions],
        keep_alive: str | float | None,
        hosts: Sequence[Host],
        timeout: float | None,
        what: str,
        on_progress: ProgressCallback | None,
    ) -> ComparisonResult:
        """The targets compared on `hosts` (every host when they are routed), within `timeout`."""
        with call_deadline(timeout, what, BENCH_ADVICE):
            async with self._one_at_a_time(hosts or self.fleet.hosts):
                result = await compare_targets(
                    targets, plan, resolve, keep_alive=keep_alive, on_progress=on_progress
                )
            ran = hosts or self._ran_on([o.host for o in result.models if o.ok])
            result.environment = await self.environment(ran)
        return result

    async def _save(self, save: Callable[[Saved], Saved], result: Saved, wanted: bool) -> Saved:
        """The result saved as a report (when `wanted`), announced to whoever listens."""
        if not wanted:
            return result
        saved = await anyio.to_thread.run_sync(save, result)
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

    def _target(self, model: str, pinned: Host | None) -> Target:
        """`model` on `pinned`, or routed: its first run goes where routing sends it (moving to
        another host that has it if that one is down), and the rest follow."""
        where = None if pinned is None else pinned.name

        async def run(host: Host, request: GenerateRequest, timeout: float | None) -> Measured:
            nonlocal where
            done = await measure_stream(host.client, request, timeout)
            if not self.fleet.single:
                where = host.name  # one machine's figures: the other runs go there too
            return done._replace(host=self._label(host))

        async def measure(
            request: GenerateRequest, timeout: float | None, progress: ProgressCallback | None
        ) -> Measured:
            pull = self._pull
            return await self.fleet.streamed(
                model,
                lambda host, _progress: run(host, request, timeout),
                host=where,
                on_progress=progress,
                pull=None if pull is None else (lambda host, p: pull(host, model, p)),
            )

        label = None if pinned is None else self._label(pinned)
        return Target(model, measure, label)

    def _ran_on(self, names: Sequence[str | None]) -> list[Host]:
        """The hosts named (by label; none with one host), each once, else the primary."""
        found = [self.fleet.host(name) for name in dict.fromkeys(names) if name is not None]
        return found or [self.fleet.primary]

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
