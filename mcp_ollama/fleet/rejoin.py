"""Down hosts rejoining: a background task probes each down host when its interval ends; it
rejoins when it answers, and stays down for a longer interval when not."""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import structlog

from mcp_ollama.fleet.host import Host

__all__ = ["Rejoin"]

logger = structlog.get_logger()


class Rejoin:
    """The background probe of a fleet's down hosts (run in the server's task group)."""

    def __init__(self, hosts: Sequence[Host]) -> None:
        self.hosts = tuple(hosts)
        self._wake: anyio.Event | None = None

    def wake(self) -> None:
        """A host just went down: look again now rather than at the next interval's end."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Forever: when a down host's interval ends, ask whether it answers; it rejoins when
        it does, and stays down for a longer interval when not."""
        while True:
            # No await between looking and waiting: a host marked down meanwhile wakes us.
            self._wake = anyio.Event()
            down = [host for host in self.hosts if host.down]
            due = [host for host in down if host.due()]
            if not due:
                wait = min((host.down_until for host in down), default=None)
                with anyio.move_on_after(None if wait is None else wait - time.monotonic()):
                    await self._wake.wait()
                continue
            async with anyio.create_task_group() as tg:
                for host in due:
                    tg.start_soon(_probe, host)


async def _probe(host: Host) -> None:
    """Let a down host rejoin when it answers, else keep it down longer."""
    if await host.daemon.probe() is None:
        host.mark_down()
        return
    logger.info("host rejoined", host=host.name)
    host.mark_up()
    host.catalog.expire()  # what it has may have changed while it was away
