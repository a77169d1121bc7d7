"""Pulling a model: the allowlist, one host's download with byte progress (and the CLI fallback),
and several hosts downloading at once with their progress summed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

import anyio

from mcp_ollama.errors import (
    HostsUnreachableError,
    InvalidInputError,
    OllamaConnectionError,
    OllamaError,
    OllamaResponseError,
    OllamaTimeoutError,
    PullInterruptedError,
)
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.listing import SummedProgress, host_error
from mcp_ollama.fleet.registry import Fleet
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.progress import ProgressCallback, ProgressThrottle
from mcp_ollama.results import PullResult, human_bytes
from mcp_ollama.settings import Settings

__all__ = ["check_pull_allowed", "download_size", "each_host", "pull_many", "pull_on"]

R = TypeVar("R")

_FINAL_PHASES = ("verifying sha256 digest", "writing manifest", "removing unused layers", "success")


def check_pull_allowed(settings: Settings, model: str) -> None:
    """Refuse a model outside the pull allowlist (when one is configured).

    Raises:
        InvalidInputError: the model matches no allowed pattern.
    """
    patterns = settings.pull_allowlist
    if patterns and not any(
        _name_matches(p, canonical_name(model)) or _name_matches(p, model.lower()) for p in patterns
    ):
        raise InvalidInputError(
            f"pulling '{model}' is not allowed here; allowed patterns: {', '.join(patterns)}. "
            "Ask the user to pull it, or to extend MCP_OLLAMA_PULL_ALLOWLIST."
        )


@dataclass
class _Downloaded:
    """Bytes a pull has fetched so far, over its attempts (to say where a cut download was)."""

    completed: int = 0
    total: int = 0
    started: bool = False


async def pull_on(
    host: Host, model: str, insecure: bool, on_progress: ProgressCallback | None
) -> PullResult:
    """Pull `model` on one host, with its resilience and CLI fallback; its list is refreshed
    afterwards.

    Raises:
        PullInterruptedError: the download broke after it started (calling again resumes it).
        OllamaError: it could not start.
    """
    downloaded = _Downloaded()
    try:
        return await host.resilience.streamed(
            lambda progress: _pull(host, model, insecure, progress, downloaded),
            fallback=lambda progress: host.cli.pull(model, insecure=insecure, on_progress=progress),
            on_progress=on_progress,
        )
    except (OllamaConnectionError, OllamaTimeoutError) as exc:
        if not downloaded.started:
            raise
        # The daemon was there and sending: what happened is a cut, and the next step a resume.
        total = downloaded.total
        done = f"{human_bytes(downloaded.completed)} of {human_bytes(total)}" if total else ""
        raise PullInterruptedError(model, done, exc) from exc
    finally:
        host.catalog.invalidate()


async def pull_many(
    fleet: Fleet,
    targets: Sequence[Host],
    model: str,
    insecure: bool,
    on_progress: ProgressCallback | None,
) -> PullResult:
    """Pull `model` on several hosts at once (each downloads from the registry itself).

    Raises:
        OllamaError: a host failed; the message names where it was pulled and where not (or
            every host that did not answer).
    """
    summed = SummedProgress(on_progress)

    async def one(target: Host) -> PullResult | OllamaError:
        try:
            return await fleet.on_host(
                target, None, lambda: pull_on(target, model, insecure, summed.part(target.name))
            )
        except OllamaError as exc:
            return exc

    answers = await each_host(targets, one)
    done = [(h, r) for h, r in answers if isinstance(r, PullResult)]
    failed = [(h, r) for h, r in answers if isinstance(r, OllamaError)]
    if failed:
        if not done:
            raise HostsUnreachableError.combine([exc for _, exc in failed])
        problems = "; ".join(f"{h.name}: {host_error(exc)}" for h, exc in failed)
        raise OllamaError(
            f"pulled '{model}' on {', '.join(h.name for h, _ in done)}, but not on "
            f"{', '.join(h.name for h, _ in failed)} ({problems}); call pull_model with "
            f"host='{failed[0][0].name}' to retry there."
        )
    # Each host downloads the same model: its size once, not once per host.
    return PullResult(
        model=model,
        status=done[0][1].status,
        total_bytes=max(r.total_bytes for _, r in done),
        completed_bytes=max(r.completed_bytes for _, r in done),
        served_by="cli" if all(r.served_by == "cli" for _, r in done) else "http",
        hosts=[h.name for h, _ in done],
    )


async def each_host(
    hosts: Sequence[Host], one: Callable[[Host], Awaitable[R]]
) -> list[tuple[Host, R]]:
    """`one(host)` for every host at once, the answers in the hosts' order."""
    answers: dict[Host, R] = {}

    async def run(host: Host) -> None:
        answers[host] = await one(host)

    async with anyio.create_task_group() as tg:
        for host in hosts:
            tg.start_soon(run, host)
    return [(host, answers[host]) for host in hosts]


async def _pull(
    host: Host,
    model: str,
    insecure: bool,
    on_progress: ProgressCallback | None,
    downloaded: _Downloaded,
) -> PullResult:
    totals: dict[str, int] = {}
    done: dict[str, int] = {}
    status = ""
    throttle = ProgressThrottle(on_progress)
    try:
        async with aclosing(host.client.pull(model, insecure=insecure)) as lines:
            async for line in lines:
                status = line.status
                if line.digest and line.total:
                    totals[line.digest] = line.total
                    done[line.digest] = max(done.get(line.digest, 0), line.completed or 0)
                completed, total = sum(done.values()), sum(totals.values())
                downloaded.started = True
                downloaded.completed, downloaded.total = completed, total
                # The phase offset keeps progress growing through the byte-less steps.
                await throttle.update(
                    completed + _phase(status),
                    (total + len(_FINAL_PHASES) + 1) if total else None,
                    status,
                    force=status == "success",
                )
    except OllamaResponseError as exc:
        if (explained := _not_in_registry(model, exc)) is None:
            raise
        raise explained from exc
    return PullResult(
        model=model,
        status=status,
        total_bytes=sum(totals.values()),
        completed_bytes=sum(done.values()),
    )


async def download_size(host: Host, model: str, insecure: bool) -> int | None:
    """Bytes a pull of `model` on `host` would still download: the first layer the daemon
    announces (the weights), learned from the start of a pull that is then stopped (the daemon
    keeps what it fetched, so the real pull resumes). None when no size came (up to date).

    Raises:
        OllamaResponseError: the registry does not have it.
    """

    async def probe() -> int | None:
        try:
            async with aclosing(host.client.pull(model, insecure=insecure)) as lines:
                async for line in lines:
                    if line.total:
                        return max(0, line.total - (line.completed or 0))
        except OllamaResponseError as exc:
            if (explained := _not_in_registry(model, exc)) is None:
                raise
            raise explained from exc
        return None

    return await host.resilience.call(probe)


def _not_in_registry(model: str, exc: OllamaResponseError) -> OllamaResponseError | None:
    """The registry's "file does not exist" in words an agent acts on (None for other errors)."""
    if "file does not exist" not in exc.error:
        return None
    return OllamaResponseError(
        f"model '{model}' does not exist in the Ollama registry ({exc.error}); check the name "
        "at https://ollama.com/library",
        exc.status_code,
    )


def _phase(status: str) -> int:
    """1 while downloading, then 2.. for each closing step, so progress always grows."""
    return _FINAL_PHASES.index(status) + 2 if status in _FINAL_PHASES else 1


def _name_matches(pattern: str, name: str) -> bool:
    """A glob over model names where `*` and `?` stay within one path segment, so `llama3*`
    cannot admit `llama3.evil.example/x/y` (another registry) or `llama3x/anything`.

    >>> _name_matches('llama3*', 'llama3.2:1b'), _name_matches('llama3*', 'llama3.evil.io/x/y')
    (True, False)
    >>> _name_matches('hf.co/bartowski/*', 'hf.co/bartowski/m-gguf:q4_k_m')
    True
    """
    parts = re.split(r"(\*|\?)", pattern.lower())
    regex = "".join(
        "[^/]*" if part == "*" else "[^/]" if part == "?" else re.escape(part) for part in parts
    )
    return re.fullmatch(regex, name) is not None
