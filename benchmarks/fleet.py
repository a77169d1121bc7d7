"""The cost of several hosts (issue 14): what routing adds to a call, and a fleet server as users
run it against a one-host server, both on the same fake daemons in the same run.

`routing` times the core's dispatch in process: the same no-op daemon call through a fleet of
three hosts (routing, load accounting, failover bookkeeping) and through one host (which skips
routing), alternated; the difference is what routing costs. `fleet` spawns the server over stdio
with three hosts and with one, and reports generate_text latency, the daemon list requests made
within the cache TTL (none expected) and the server's TCP connections (one pool per host, reused).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.harness import (
    MODEL,
    Figure,
    fake_daemon,
    percentile,
    scratch_dir,
    server_env,
    stdio_server,
)
from mcp_ollama.fleet import Fleet, Host
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeServerHandle

__all__ = ["fleet_server", "routing"]

HOSTS = ("gpu", "laptop", "nas")
GENERATE = {"model": MODEL, "prompt": "Say hi"}


@contextlib.contextmanager
def _daemons() -> Iterator[dict[str, FakeServerHandle]]:
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(fake_daemon()) for name in HOSTS}


def _settings(daemons: dict[str, FakeServerHandle], data_dir: Path, *, hosts: bool) -> Settings:
    common = {"data_dir": data_dir, "auto_start": False, "cli_fallback": False}
    if not hosts:
        return Settings(host=daemons[HOSTS[0]].url, **common)
    return Settings(hosts={name: {"url": h.url} for name, h in daemons.items()}, **common)


def _list_requests(daemons: dict[str, FakeServerHandle]) -> int:
    return sum(
        len(h.fake.requests_to(path)) for h in daemons.values() for path in ("/api/tags", "/api/ps")
    )


async def routing(*, quick: bool = False) -> list[Figure]:
    """Per call: (dispatch through three hosts - through one host), in process."""
    rounds, per_round = (4, 500) if quick else (20, 2000)

    async def noop(_host: Host) -> None:
        return None

    with _daemons() as daemons, scratch_dir() as tmp:
        many = Fleet.from_settings(_settings(daemons, tmp / "many", hosts=True))
        one = Fleet.from_settings(_settings(daemons, tmp / "one", hosts=False))
        try:
            await many.route(MODEL)  # every host's model list, fetched once
            before = _list_requests(daemons)
            timings: dict[str, list[float]] = {"many": [], "one": []}
            for _ in range(rounds):
                for name, fleet in (("many", many), ("one", one)):
                    started = time.perf_counter()
                    for _ in range(per_round):
                        await fleet.call(MODEL, noop)
                    timings[name].append((time.perf_counter() - started) / per_round)
            asked = _list_requests(daemons) - before
        finally:
            await many.aclose()
            await one.aclose()
    many_ms = percentile(timings["many"], 50) * 1000
    one_ms = percentile(timings["one"], 50) * 1000
    added = many_ms - one_ms
    detail = {
        "calls": rounds * per_round,
        "three_hosts_ms_per_call": many_ms,
        "one_host_ms_per_call": one_ms,
        "list_requests_while_routing": asked,
    }
    return [
        Figure("routing cost per call, 3 hosts", added, "ms", "< 0.1 ms", added < 0.1, detail),
        Figure("model list requests while routing", asked, "", "0", asked == 0, detail),
    ]


async def fleet_server(*, quick: bool = False) -> list[Figure]:
    """generate_text p50 through a server with three hosts against one with one host (stdio),
    the list requests it made within the cache TTL, and its TCP connections afterwards."""
    calls, warmup = (30, 5) if quick else (300, 30)
    with _daemons() as daemons, scratch_dir() as tmp:
        first = daemons[HOSTS[0]]
        hosts = ",".join(f"{name}={h.url}" for name, h in daemons.items())
        env_many = server_env(first, tmp / "many", MCP_OLLAMA_HOSTS=hosts)
        env_one = server_env(first, tmp / "one")
        async with stdio_server(env_many) as many, stdio_server(env_one) as one:
            latency: dict[str, list[float]] = {"many": [], "one": []}
            asked = opened = 0
            for i in range(warmup + calls):
                if i == warmup:
                    asked = _list_requests(daemons)
                    opened = many.connections()
                for name, server in (("many", many), ("one", one)):
                    started = time.perf_counter()
                    result = await server.client.call_tool("generate_text", GENERATE)
                    elapsed = time.perf_counter() - started
                    if result.is_error:
                        raise RuntimeError(f"generate_text failed: {result.content}")
                    if i >= warmup:
                        latency[name].append(elapsed * 1000)
            asked = _list_requests(daemons) - asked
            connections = many.connections()
    many50, one50 = percentile(latency["many"], 50), percentile(latency["one"], 50)
    detail = {
        "calls": calls,
        "three_hosts_p50_ms": many50,
        "one_host_p50_ms": one50,
        "three_hosts_p99_ms": percentile(latency["many"], 99),
        "one_host_p99_ms": percentile(latency["one"], 99),
        "list_requests": asked,
        "tcp_connections_after_warmup": opened,
        "tcp_connections_after_calls": connections,
    }
    return [
        Figure(
            "generate_text p50, 3 hosts - 1 host, stdio",
            many50 - one50,
            "ms",
            f"(one host {one50:.2f} ms)",
            None,
            detail,
        ),
        Figure("list requests within the TTL, 3 hosts", asked, "", "0", asked == 0, detail),
        Figure(
            f"new TCP connections over {calls} calls, 3 hosts",
            max(connections - opened, 0),
            "",
            "0 (each host's pool reused)",
            connections <= opened,
            detail,
        ),
    ]
