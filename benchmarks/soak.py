"""Load and soak (issue 7): 1,000 generate_text calls, 32 in flight, over streamable HTTP.

Reports successes, p50/p99 latency, and the server's RSS, open file descriptors and TCP
connections before and after. "Before" is taken after one warm-up round at full concurrency,
so the connection pool to the daemon is already at its working size: what grows after that is
a leak, not warm-up. Runs alone with `python -m benchmarks soak`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from benchmarks.harness import (
    MODEL,
    Figure,
    Server,
    fake_daemon,
    http_server,
    percentile,
    scratch_dir,
    server_env,
)

__all__ = ["SoakResult", "run_soak", "soak"]

ARGUMENTS = {"model": MODEL, "prompt": "Say hi"}
# Slack over the warm "before": the pool may open a few more daemon connections under a
# burst (it keeps up to max_concurrent_requests + 4), and sessions close asynchronously.
FD_SLACK = 8


@dataclass
class SoakResult:
    """What a soak run observed."""

    calls: int
    in_flight: int
    successes: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    fds_before: int = 0
    fds_after: int = 0
    connections_before: int = 0
    connections_after: int = 0
    daemon_requests_in_flight_after: int = 0

    def summary(self) -> dict[str, Any]:
        """The figures as plain JSON."""
        return {
            "calls": self.calls,
            "in_flight": self.in_flight,
            "successes": self.successes,
            "failures": len(self.failures),
            "first_failures": self.failures[:3],
            "p50_ms": percentile(self.latencies_ms, 50),
            "p99_ms": percentile(self.latencies_ms, 99),
            "wall_s": self.wall_s,
            "calls_per_s": self.calls / self.wall_s if self.wall_s else 0.0,
            "rss_before_mb": self.rss_before_mb,
            "rss_after_mb": self.rss_after_mb,
            "fds_before": self.fds_before,
            "fds_after": self.fds_after,
            "connections_before": self.connections_before,
            "connections_after": self.connections_after,
        }


async def _round(server: Server, calls: int, in_flight: int, result: SoakResult | None) -> None:
    """`calls` generate_text calls with `in_flight` at a time, recorded into `result`."""
    remaining = iter(range(calls))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            try:
                reply = await server.client.call_tool("generate_text", ARGUMENTS)
            except Exception as exc:  # a protocol or transport failure is a finding, not a crash
                if result is not None:
                    result.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if result is None:
                continue
            if reply.is_error:
                result.failures.append(str(reply.content[:1]))
            else:
                result.successes += 1
                result.latencies_ms.append((time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)


async def run_soak(server: Server, *, calls: int, in_flight: int = 32) -> SoakResult:
    """Warm up one round at full concurrency, then soak and measure the server around it."""
    await _round(server, in_flight, in_flight, None)
    result = SoakResult(calls, in_flight)
    result.rss_before_mb = server.rss_mb()
    result.fds_before = server.fds()
    result.connections_before = server.connections()
    started = time.perf_counter()
    await _round(server, calls, in_flight, result)
    result.wall_s = time.perf_counter() - started
    result.rss_after_mb = server.rss_mb()
    result.fds_after = server.fds()
    result.connections_after = server.connections()
    return result


async def soak(*, quick: bool = False) -> list[Figure]:
    """The soak benchmark's rows."""
    calls = 200 if quick else 1000
    with fake_daemon(response_tokens=8) as handle, scratch_dir() as tmp:
        async with http_server(server_env(handle, tmp)) as ours:
            result = await run_soak(ours, calls=calls)
        in_flight_after = handle.fake.active_requests
    detail = {**result.summary(), "daemon_requests_in_flight_after": in_flight_after}
    growth = result.rss_after_mb - result.rss_before_mb
    fd_growth = result.fds_after - result.fds_before
    name = f"soak {calls} calls x32, http"
    return [
        Figure(
            f"{name}: successes",
            result.successes,
            f"/{calls}",
            f"{calls}",
            result.successes == calls,
            detail,
        ),
        Figure(f"{name}: latency p50", detail["p50_ms"], "ms", "(reported)", None, detail),
        Figure(f"{name}: latency p99", detail["p99_ms"], "ms", "(reported)", None, detail),
        Figure(f"{name}: RSS growth", growth, "MB", "< 10 MB", growth < 10, detail),
        Figure(
            f"{name}: open fds growth",
            fd_growth,
            "",
            f"<= {FD_SLACK}",
            fd_growth <= FD_SLACK,
            detail,
        ),
    ]
