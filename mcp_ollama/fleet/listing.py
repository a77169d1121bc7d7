"""Fleet-wide views: the model lists and running lists of several hosts merged into one answer,
and pull progress summed over hosts pulling at once."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_ollama.errors import HostsUnreachableError, OllamaError
from mcp_ollama.fleet.host import Host
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.results import LocalModel, ModelList, RunningList, RunningModelInfo

__all__ = ["SummedProgress", "host_error", "merge_model_lists", "merge_running"]

HostAnswer = tuple[Host, ModelList | OllamaError]


def merge_model_lists(answers: Sequence[HostAnswer]) -> ModelList:
    """One list with each model once, naming the hosts that have it and where it is loaded.

    Raises:
        OllamaError: no host answered and none has a cached list (naming each host).
    """
    merged: dict[str, LocalModel] = {}
    reasons: list[str] = []
    fetched: list[str] = []
    served_by_cli = True
    for host, answer in answers:
        if isinstance(answer, OllamaError):
            reasons.append(f"{host.name} could not be reached ({host_error(answer)})")
            continue
        if answer.stale:
            reasons.append(f"{host.name}: {answer.stale_reason}")
        if answer.cached_at:
            fetched.append(answer.cached_at)
        served_by_cli &= answer.served_by == "cli"
        for model in answer.models:
            entry = merged.setdefault(
                canonical_name(model.name), model.model_copy(update={"hosts": [], "loaded_on": []})
            )
            assert entry.hosts is not None
            assert entry.loaded_on is not None
            entry.hosts.append(host.name)
            if model.loaded:
                entry.loaded_on.append(host.name)
                entry.loaded = True
    errors = [answer for _, answer in answers if isinstance(answer, OllamaError)]
    if errors and len(errors) == len(answers):
        raise HostsUnreachableError.combine(errors)
    return ModelList(
        models=list(merged.values()),
        stale=bool(reasons),
        stale_reason="; ".join(reasons) or None,
        cached_at=min(fetched) if fetched else None,
        served_by="cli" if served_by_cli and fetched else "http",
    )


def merge_running(
    answers: Sequence[tuple[Host, list[RunningModelInfo] | OllamaError]],
) -> RunningList:
    """The loaded models of every host, each naming its host, and the hosts that did not answer.

    Raises:
        OllamaError: no host answered (naming each host).
    """
    models: list[RunningModelInfo] = []
    unreachable: dict[str, str] = {}
    for host, answer in answers:
        if isinstance(answer, OllamaError):
            unreachable[host.name] = host_error(answer)
            continue
        models += [m.model_copy(update={"host": host.name}) for m in answer]
    errors = [answer for _, answer in answers if isinstance(answer, OllamaError)]
    if errors and len(errors) == len(answers):
        raise HostsUnreachableError.combine(errors)
    return RunningList(models=models, unreachable=unreachable or None)


def host_error(error: OllamaError) -> str:
    """What happened at a host that did not answer, for a line that already names it."""
    return error.detail if isinstance(error, HostsUnreachableError) else error.what


class SummedProgress:
    """Progress of several hosts pulling at once, reported as one sum that only grows."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._parts: dict[str, tuple[float, float | None]] = {}

    def part(self, name: str) -> ProgressCallback | None:
        """The callback to hand the pull on host `name`."""
        if self._callback is None:
            return None

        async def report(progress: float, total: float | None, message: str | None) -> None:
            assert self._callback is not None
            self._parts[name] = (progress, total)
            done = sum(p for p, _ in self._parts.values())
            totals = [t for _, t in self._parts.values()]
            whole = sum(t for t in totals if t) if all(totals) else None
            await self._callback(done, whole, f"{name}: {message}" if message else name)

        return report
