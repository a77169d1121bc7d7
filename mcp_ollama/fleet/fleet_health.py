"""The health report of several hosts: one line per host (whether it answers, whether routing has
it marked down, what it has), and the checks of `fleet.health` over the fleet. A host that does not
answer is a warning while another does (calls go to the others), and a problem when none does."""

from __future__ import annotations

from mcp_ollama.errors import OllamaError
from mcp_ollama.fleet.health import (
    HealthReport,
    HostHealth,
    check_health,
    data_dir_problems,
    default_model,
    missing_default_advice,
    probe,
    unreachable_advice,
)
from mcp_ollama.fleet.host import Host
from mcp_ollama.fleet.pulls import each_host
from mcp_ollama.fleet.registry import Fleet
from mcp_ollama.ollama.lifecycle import find_ollama_binary
from mcp_ollama.settings import CLEAR_TEXT_SECRETS, Settings

__all__ = ["check_fleet_health"]


async def check_fleet_health(
    settings: Settings, fleet: Fleet, *, for_person: bool = False
) -> HealthReport:
    """`check_health` for the configured hosts, with a line per host when there are several;
    like it, it never starts a daemon."""
    if fleet.single:
        primary = fleet.primary
        return await check_health(
            settings, primary.client, daemon=primary.daemon, for_person=for_person
        )
    answers = await each_host(fleet.hosts, lambda host: probe(host.client))
    hosts = [_host_health(host, version, failure) for host, (version, failure) in answers]
    answering = [host for host, entry in zip(fleet.hosts, hosts, strict=True) if entry.reachable]
    binary = find_ollama_binary(settings)
    problems: list[str] = []
    warnings: list[str] = []
    for host, (_, failure) in answers:
        if host.config.sends_secrets_in_clear:
            warnings.append(f"{host.name}: {CLEAR_TEXT_SECRETS}")
        if host in answering:
            continue
        where = f"the url of hosts.{host.name}"
        advice = unreachable_advice(settings, host.config, failure, binary, setting=where)
        advice = f"{host.name}: {advice}"
        if answering:
            warnings.append(f"{advice}; meanwhile calls go to the other hosts")
        else:
            problems.append(advice)
    present: bool | None = None
    if settings.default_model and answering:
        found = [await default_model(settings, host.client) for host in answering]
        if any(p for p, _ in found):
            present = True
        elif all(p is False for p, _ in found):
            present = False
            variants = sorted({v for _, vs in found for v in vs})
            problems.append(missing_default_advice(settings.default_model, variants, for_person))
    storage = await data_dir_problems(settings)
    problems += storage
    reachable = [h for h in hosts if h.reachable]
    return HealthReport(
        healthy=not problems,
        daemon_url=", ".join(h.url for h in hosts),
        daemon_reachable=bool(reachable),
        daemon_version=", ".join(sorted({h.version for h in reachable if h.version})) or None,
        daemon_error="; ".join(f"{h.name}: {h.error}" for h in hosts if h.error) or None,
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
        settings=settings.redacted(),
        hosts=hosts,
    )


def _host_health(host: Host, version: str | None, failure: OllamaError | str | None) -> HostHealth:
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
