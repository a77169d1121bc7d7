"""Choosing a host for a call, among those that have the model.

The rules, in order:

1. Only a host that has the model (by exact name, or `name` for `name:latest`) and is not down.
2. A host where the model is loaded is preferred: a host that would have to load it counts as
   `UNLOADED_COST` calls busier. So a loaded host takes the calls until it has that many more in
   flight than an idle one, about where Ollama would start queueing them (OLLAMA_NUM_PARALLEL).
3. Then the fewest calls in flight relative to the host's weight.
4. Hosts still equal take turns in proportion to their weights (smooth weighted round robin), so
   one at a time calls spread too, and a host that rejoins gets its share at once.

This module is pure bookkeeping (no I/O): `choose` is on every routed call's path.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_ollama.fleet.host import Host, ModelIndex

__all__ = ["UNLOADED_COST", "choose", "describe_installed", "least_loaded"]

UNLOADED_COST = 4.0
LISTED_PER_HOST = 8


def _score(host: Host, key: str | None) -> float:
    busy = host.in_flight / host.weight
    if key is None:
        return busy
    index = host.known_index()
    return busy if index is not None and key in index.loaded else busy + UNLOADED_COST


def choose(hosts: Sequence[Host], key: str | None) -> Host:
    """The host to send a call for the model `key` (canonical) to; `key=None` ignores what is
    loaded (the least-loaded host, e.g. for a pull). `hosts` is not empty."""
    if len(hosts) == 1:
        return hosts[0]
    best = min(_score(host, key) for host in hosts)
    tied = [host for host in hosts if _score(host, key) == best]
    if len(tied) == 1:
        return tied[0]
    total = 0.0
    for host in tied:
        host.current += host.weight
        total += host.weight
    chosen = max(tied, key=lambda host: host.current)
    chosen.current -= total
    return chosen


def least_loaded(hosts: Sequence[Host]) -> Host:
    """The host with the fewest calls in flight for its weight (where a pull should go)."""
    return choose(hosts, None)


def describe_installed(hosts: Sequence[Host]) -> str:
    """What each host has, for an error about a model none of them has.

    >>> describe_installed([])
    'no host answered'
    """
    parts = []
    for host in hosts:
        index: ModelIndex | None = host.known_index()
        if index is None:
            parts.append(f"{host.name} did not answer")
            continue
        names = sorted(m.name for m in index.source.models)
        shown = ", ".join(names[:LISTED_PER_HOST]) or "nothing"
        more = f" and {len(names) - LISTED_PER_HOST} more" if len(names) > LISTED_PER_HOST else ""
        down = " (down)" if host.down else ""
        parts.append(f"{host.name}{down} has {shown}{more}")
    return "; ".join(parts) or "no host answered"
