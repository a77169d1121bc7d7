"""The health report behind the `check_health` tool and `mcp-ollama doctor`.

It looks without touching: it never starts the daemon, so a report describes the machine as it
is. Healthy means the daemon answers, the data directory is writable and the configured default
model (if any) is installed; a missing `ollama` binary is only a warning while a daemon answers.
With several hosts the report has a line per host: a host that does not answer is a warning while
another does (calls go to the others), and a problem when none does.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import anyio
from pydantic import Field

from mcp_ollama.errors import (
    HOSTS_SETTING,
    OllamaConnectionError,
    OllamaError,
    OllamaHostNotFoundError,
    OllamaTimeoutError,
    StorageError,
)
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.pulls import each_host
from mcp_ollama.fleet.registry import Fleet
from mcp_ollama.hosts import HostConfig
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.lifecycle import PROBE_TIMEOUT, find_ollama_binary
from mcp_ollama.ollama.names import canonical_name, same_model, tagged_variants
from mcp_ollama.results import FLEET_ONLY, Result
from mcp_ollama.settings import CLEAR_TEXT_SECRETS, Settings
from mcp_ollama.storage import atomic_write_text

__all__ = ["HealthReport", "HostHealth", "check_health"]

PROBE_NAME = ".health-check"


class HostHealth(Result):
    """One host of several: whether it answers, and what routing knows of it."""

    name: str
    url: str
    reachable: bool
    version: str | None = None
    error: str | None = Field(None, description="Why it did not answer")
    marked_down: bool = Field(False, description="Calls avoid it until it answers again")
    weight: float = 1.0
    calls_in_flight: int = 0
    models: int | None = Field(None, description="Models installed, from its cached list")
    loaded: list[str] | None = Field(None, description="Models in memory, from its cached list")
    started_by_server: bool = False


class HealthReport(Result):
    """Whether mcp-ollama can work here, and what to fix when it cannot."""

    healthy: bool = Field(description="True when nothing in `problems` needs fixing")
    daemon_url: str = Field(description="Where Ollama is expected")
    daemon_reachable: bool
    daemon_version: str | None = None
    daemon_error: str | None = Field(None, description="What went wrong asking the daemon")
    daemon_started_by_server: bool = Field(
        False, description="Whether this server started the daemon (auto-start)"
    )
    binary_found: bool = Field(description="Whether the `ollama` executable is installed")
    binary_path: str | None = None
    default_model: str | None = Field(None, description="The configured default model")
    default_model_present: bool | None = Field(
        None, description="None when no default model is configured or the daemon is down"
    )
    data_dir: str
    data_dir_writable: bool
    config_file: str | None = Field(description="The config file read, None when there is none")
    problems: list[str] = Field(default_factory=list, description="What to fix, one per line")
    warnings: list[str] = Field(default_factory=list, description="Worth knowing, not fatal")
    tools: list[str] = Field(default_factory=list, description="The tools the server lists")
    settings: dict[str, Any] = Field(description="Effective settings, secrets redacted")
    hosts: list[HostHealth] | None = Field(
        None, description="Each host (several hosts only)", json_schema_extra=FLEET_ONLY
    )


async def check_health(
    settings: Settings, fleet: Fleet, *, for_person: bool = False
) -> HealthReport:
    """Check each host, the binary, the default model and the data directory; `for_person`
    words the problems for someone at a terminal (`doctor`) rather than for an agent."""
    answers = await each_host(fleet.hosts, lambda host: probe(host.client))
    answering = [host for host, (version, _) in answers if version is not None]
    binary = find_ollama_binary(settings)
    problems: list[str] = []
    warnings: list[str] = []
    if binary is None:
        warnings.append(
            f"no `ollama` executable found ({settings.ollama_bin!r}): auto-start and the CLI "
            "fallback are unavailable; install it from https://ollama.com/download"
        )
    for host, (_, failure) in answers:
        named = "" if fleet.single else f"{host.name}: "
        if host not in answering:
            setting = "OLLAMA_HOST" if fleet.single else f"its url in {HOSTS_SETTING}"
            advice = named + unreachable_advice(settings, host.config, failure, binary, setting)
            if answering:  # calls go to the hosts that answer
                warnings.append(f"{advice}; meanwhile calls go to the other hosts")
            else:
                problems.append(advice)
        if host.config.sends_secrets_in_clear:
            warnings.append(named + CLEAR_TEXT_SECRETS)
    present = await _default_model_problems(settings, answering, problems, for_person)
    storage = await data_dir_problems(settings)
    problems += storage
    hosts = [_host_health(host, version, failure) for host, (version, failure) in answers]
    reachable = [h for h in hosts if h.reachable]
    errors = [(h.name, h.error) for h in hosts if h.error]
    return HealthReport(
        healthy=not problems,
        daemon_url=", ".join(h.url for h in hosts),
        daemon_reachable=bool(reachable),
        daemon_version=", ".join(sorted({h.version for h in reachable if h.version})) or None,
        daemon_error="; ".join(e if fleet.single else f"{n}: {e}" for n, e in errors) or None,
        daemon_started_by_server=any(h.started_by_server for h in hosts),
        binary_found=binary is not None,
        binary_path=binary,
        default_model=settings.default_model,
        default_model_present=present,
        data_dir=str(settings.data_dir),
        data_dir_writable=not storage,
        config_file=str(settings.config_file) if settings.config_file else None,
        problems=problems,
        warnings=warnings,
        tools=list(settings.enabled_tools),
        settings=settings.redacted(),
        hosts=None if fleet.single else hosts,
    )


async def _default_model_problems(
    settings: Settings, answering: list[Host], problems: list[str], for_person: bool
) -> bool | None:
    """Whether a host that answers has the default model (None: none configured, or no list
    came); when none has it, the problem is added to `problems`."""
    if not settings.default_model or not answering:
        return None
    found = [await default_model(settings, host.client) for host in answering]
    if any(present for present, _ in found):
        return True
    if not all(present is False for present, _ in found):
        return None
    variants = sorted({variant for _, each in found for variant in each})
    problems.append(missing_default_advice(settings.default_model, variants, for_person))
    return False


def _host_health(host: Host, version: str | None, failure: OllamaError | str | None) -> HostHealth:
    """One host's line of the report."""
    index = host.known_index()
    return HostHealth(
        name=host.name,
        url=host.config.base_url,
        reachable=version is not None,
        version=version,
        error=failure.what if isinstance(failure, OllamaError) else failure,
        marked_down=host.down,
        weight=host.weight,
        calls_in_flight=host.in_flight,
        models=None if index is None else len(index.installed),
        loaded=None if index is None else sorted(index.loaded),
        started_by_server=host.daemon.started_by_us,
    )


async def probe(client: OllamaClient) -> tuple[str | None, OllamaError | str | None]:
    """The daemon's version, or why it did not answer: one request, no retries."""
    with anyio.move_on_after(PROBE_TIMEOUT):
        try:
            return (await client.version(retries=0)).version, None
        except OllamaError as exc:
            return None, exc
    return None, f"no answer within {PROBE_TIMEOUT:g} s"


def unreachable_advice(
    settings: Settings,
    host: HostConfig,
    failure: OllamaError | str | None,
    binary: str | None,
    setting: str = "OLLAMA_HOST",
) -> str:
    """What to do about a daemon that did not answer the probe (`setting` names where its
    address is configured)."""
    if isinstance(failure, OllamaError) and not _nothing_answered(failure):
        # A wrong address or a failing daemon: starting one would not help.
        return str(failure) if setting == "OLLAMA_HOST" else f"{failure.what}: correct {setting}"
    if not host.is_local:
        return f"the remote Ollama at {host.base_url} does not answer ({failure}); check it"
    if binary is None:
        return (
            f"Ollama does not answer at {host.base_url} and is not installed: install it "
            f"from https://ollama.com/download, or set {setting} to a running Ollama"
        )
    what = failure.what if isinstance(failure, OllamaError) else failure
    start = "it starts on the first tool call" if settings.auto_start else "start it"
    return (
        f"Ollama does not answer at {host.base_url} ({what}); {start} "
        f"(`{binary} serve`), or set {setting} to where it listens"
    )


def _nothing_answered(failure: OllamaError) -> bool:
    """Whether nothing listens at the address (a daemon to start), as opposed to a name that
    does not resolve or something else answering."""
    return isinstance(failure, OllamaConnectionError | OllamaTimeoutError) and not isinstance(
        failure, OllamaHostNotFoundError
    )


async def default_model(settings: Settings, client: OllamaClient) -> tuple[bool | None, list[str]]:
    """Whether the default model is installed (Ollama's `:latest` rule), and if not, which of
    its tagged variants are."""
    if not settings.default_model:
        return None, []
    try:
        installed = [m.name for m in await client.list_models()]
    except OllamaError:
        return None, []
    if any(same_model(settings.default_model, name) for name in installed):
        return True, []
    return False, tagged_variants(settings.default_model, installed)


def missing_default_advice(model: str, variants: list[str], for_person: bool) -> str:
    """What to do about a default model that is not installed."""
    full = canonical_name(model) if ":" not in model.rsplit("/", 1)[-1] else model
    pull = f"`ollama pull {full}`" + ("" if for_person else " (or the pull_model tool)")
    if not variants:
        return f"the default model '{model}' is not installed: pull it with {pull}"
    these = "that" if len(variants) == 1 else "one of those"
    return (
        f"the default model '{model}' ({full}) is not installed; installed: "
        f"{', '.join(variants)}; set MCP_OLLAMA_DEFAULT_MODEL to {these}, or pull it with {pull}"
    )


async def data_dir_problems(settings: Settings) -> list[str]:
    """The problem with the data directory, if it is not writable."""
    writable, storage_error = await anyio.to_thread.run_sync(_writable, settings.data_dir)
    if writable:
        return []
    return [
        f"the data directory {settings.data_dir} is not writable ({storage_error}); fix its "
        "permissions or set MCP_OLLAMA_DATA_DIR"
    ]


def _writable(directory: Path) -> tuple[bool, str | None]:
    """Write and remove a small file the way every data file is written (atomically)."""
    probe = directory / f"{PROBE_NAME}-{os.getpid()}"
    try:
        atomic_write_text(probe, "ok\n")
    except StorageError as exc:
        return False, str(exc)
    with contextlib.suppress(OSError):
        probe.unlink()
    return True, None
