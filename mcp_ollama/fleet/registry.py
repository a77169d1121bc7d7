"""`Fleet`: the daemons behind the server, and where each call goes.

A call for a model is routed (`fleet.routing` says how) and run on one host through that host's
resilience (auto-start, busy retries, CLI fallback). If the host refuses the connection, times
out, or cannot be started before the first token arrives, it is marked down for a short interval
that grows with each failure in a row, and the call moves to another host that has the model:
the caller never sees that failure. A stream that breaks after tokens arrived is an error as
before (never generated twice), and an error Ollama itself answers (a 500, a bad option) is not
a host failure (`fleet.failures` says which errors are). A background task (`fleet.rejoin`)
probes each down host when its interval ends and lets it rejoin; without one (the CLI), a down
host is tried again once its interval is over.

With one host (OLLAMA_HOST alone) none of this runs: a call goes straight to its resilience,
exactly as before there were fleets.

`call` and `streamed` are the one place a daemon call is routed and failed over, benchmarks
included. A call's deadline (`mcp_ollama.deadline`), opened where the call starts, encloses them:
routing, failover, auto-start, pulls and retries all spend the one budget, and its expiry (a
`CallTimeoutError`, or a cancellation) is never taken for a host failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import TypeVar

import anyio
import structlog
from anyio.abc import TaskGroup

from mcp_ollama.errors import (
    GenerationInterruptedError,
    HostsUnreachableError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotOnHostError,
    OllamaError,
    PullInterruptedError,
)
from mcp_ollama.fleet.failures import for_fleet, is_host_failure
from mcp_ollama.fleet.host import Host, ModelIndex
from mcp_ollama.fleet.rejoin import Rejoin
from mcp_ollama.fleet.routing import choose, describe_installed, least_loaded
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.missing import explain_missing
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.ollama.resilience import ChainedProgress, ProgressCall
from mcp_ollama.progress import ProgressCallback
from mcp_ollama.settings import Settings

__all__ = ["Fleet"]

logger = structlog.get_logger()

T = TypeVar("T")
Attempt = Callable[[Host, bool], Awaitable[T]]
"""Runs the call on a host; the flag says whether the host is known to have the model (False:
nobody has it, and this host was chosen to pull it)."""
HostCall = Callable[[Host], Awaitable[T]]
HostProgressCall = Callable[[Host, ProgressCallback | None], Awaitable[T]]


class Fleet:
    """The hosts, looked up by name, and the one place a call is routed and failed over."""

    def __init__(self, settings: Settings, hosts: Sequence[Host]) -> None:
        if not hosts:
            raise ValueError("a fleet needs at least one host")
        self.settings = settings
        self.hosts = tuple(hosts)
        self.primary = self.hosts[0]
        self.single = len(self.hosts) == 1
        self._by_name = {host.name.lower(): host for host in self.hosts}
        self._probing = False
        self._rejoin = Rejoin(self.hosts)

    @classmethod
    def from_settings(cls, settings: Settings, *, client: OllamaClient | None = None) -> Fleet:
        """The configured hosts; `client` (tests) serves the host at its URL."""
        configs = settings.host_configs()
        label = len(configs) > 1
        return cls(
            settings,
            [
                Host(
                    settings,
                    config,
                    client=client if client and client.base_url == config.base_url else None,
                    label=config.name if label else None,
                )
                for config in configs
            ],
        )

    @property
    def names(self) -> list[str]:
        """The host names, in configuration order."""
        return [host.name for host in self.hosts]

    def host(self, name: str) -> Host:
        """The host called `name` (case-insensitive).

        Raises:
            InvalidInputError: no host has that name.
        """
        found = self._by_name.get(name.strip().lower())
        if found is None:
            raise InvalidInputError(
                f"no host is called {name!r}; the hosts are: {', '.join(self.names)}"
            )
        return found

    def select(self, names: Iterable[str] | None) -> list[Host]:
        """The named hosts (every host for None), each once, in the order given.

        Raises:
            InvalidInputError: an unknown name.
        """
        if names is None:
            return list(self.hosts)
        chosen: list[Host] = []
        for name in names:
            host = self.host(name)
            if host not in chosen:
                chosen.append(host)
        return chosen

    # -- lifetime ---------------------------------------------------------------------------

    def attach(self, task_group: TaskGroup) -> None:
        """Run background work in `task_group` (the server's lifespan): stale model lists are
        refreshed there, and down hosts are probed until they rejoin."""
        for host in self.hosts:
            host.catalog.attach(task_group)
        if not self.single:
            self._probing = True
            task_group.start_soon(self._rejoin.run)

    async def stop(self) -> None:
        """At shutdown: stop the daemons we started, where the settings ask for it."""
        for host in self.hosts:
            await host.daemon.stop()

    async def aclose(self) -> None:
        """Close the connection pools this fleet opened."""
        for host in self.hosts:
            if host.owns_client:
                await host.client.aclose()

    # -- running a call ---------------------------------------------------------------------

    async def call(
        self,
        model: str,
        operation: HostCall[T],
        *,
        host: str | None = None,
        fallback: HostCall[T] | None = None,
        loads: bool = True,
    ) -> T:
        """Run `operation` on a host that has `model` (or on `host`), with that host's
        resilience, moving to another host if this one is down. `loads=False` says the call
        does not load the model into memory (so routing does not count it as loaded there).

        Raises:
            ModelNotOnHostError: no host has the model.
            OllamaError: the call failed on every host that has the model.
        """

        async def attempt(target: Host, _installed: bool) -> T:
            spare = None if fallback is None else (lambda: fallback(target))
            return await target.resilience.call(lambda: operation(target), fallback=spare)

        return await self._dispatch(model, host, attempt, loads=loads)

    async def streamed(
        self,
        model: str,
        operation: HostProgressCall[T],
        *,
        host: str | None = None,
        fallback: Callable[[Host], ProgressCall[T] | None] | None = None,
        on_progress: ProgressCallback | None = None,
        pull: HostProgressCall[object] | None = None,
    ) -> T:
        """A streamed call (generate, chat): `call()` with busy retries, progress that only
        grows across hosts, and the auto-pull of a model no host has (on the least-loaded
        host) when `pull` is given and `auto_pull` is on.

        Raises:
            ModelNotFoundError: no host has the model (and auto-pull is off).
            OllamaError: the call failed on every host that has the model.
        """
        # Progress only grows, also when a call moves to another host after its auto-start
        # reported some; one host needs no such bookkeeping.
        chain = None if self.single else ChainedProgress(on_progress)
        progress = on_progress if chain is None else chain.callback

        async def attempt(target: Host, installed: bool) -> T:
            if chain is not None:
                chain.next_step()
            # A model the routing saw on this host is not pulled here if the host disagrees:
            # the call moves to another host that has it instead.
            puller = pull if pull is not None and (self.single or host or not installed) else None
            return await target.resilience.streamed(
                lambda progress: operation(target, progress),
                fallback=None if fallback is None else fallback(target),
                on_progress=progress,
                pull=None if puller is None else (lambda p: puller(target, p)),
            )

        return await self._dispatch(model, host, attempt)

    async def on_host(self, target: Host, key: str | None, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` on `target`, counted in its calls in flight; a failure to reach it marks
        it down, an answer marks it up (and `key`, if given, as loaded there). With several
        hosts, an error about the host's address names the host and the `hosts` setting.

        Raises:
            HostsUnreachableError: with several hosts, `target` did not answer.
        """
        target.in_flight += 1
        try:
            result = await call()
        except OllamaError as exc:
            interrupted = GenerationInterruptedError | PullInterruptedError
            cause = exc.cause if isinstance(exc, interrupted) else exc
            if is_host_failure(cause):
                target.last_failure = cause.what
                if target.mark_down():
                    logger.warning("host marked down", host=target.name, error=cause.what)
                    self._rejoin.wake()
            explained = exc if self.single else for_fleet(target, exc)
            if explained is exc:
                raise
            raise explained from exc
        finally:
            target.in_flight -= 1
        if target.failures:
            target.mark_up()
        if key is not None:
            target.note_loaded(key)
        return result

    async def _dispatch(
        self, model: str, pin: str | None, attempt: Attempt[T], *, loads: bool = True
    ) -> T:
        if self.single and pin is None:
            async with explain_missing(self.primary.client):
                return await attempt(self.primary, True)
        key = canonical_name(model) if loads else None
        if pin is not None:
            return await self._pinned(self.host(pin), model, key, attempt)
        tried: set[Host] = set()
        last: OllamaError | None = None
        unreachable: list[OllamaError] = []
        while True:
            placed = await self._place(model, canonical_name(model), tried)
            if placed is None:
                assert last is not None  # only after a host was tried
                if unreachable and is_host_failure(last):
                    raise HostsUnreachableError.combine(unreachable, model=model) from last
                raise last
            target, installed = placed
            try:
                return await self.on_host(target, key, partial(attempt, target, installed))
            except ModelNotFoundError as exc:
                if not installed:
                    raise
                target.catalog.expire()  # it listed the model, but no longer has it
                last = exc
            except OllamaError as exc:
                if not is_host_failure(exc):
                    raise
                last = exc
                unreachable.append(exc)
            tried.add(target)
            logger.info("moving a call to another host", model=model, left=target.name)

    async def _pinned(self, target: Host, model: str, key: str | None, attempt: Attempt[T]) -> T:
        try:
            async with explain_missing(target.client):
                return await self.on_host(target, key, lambda: attempt(target, True))
        except ModelNotFoundError as exc:
            if self.single or exc.installed or isinstance(exc, ModelNotOnHostError):
                raise
            raise ModelNotOnHostError(
                model,
                f"model '{model}' is not on host '{target.name}': call pull_model with "
                f"model='{model}', host='{target.name}', or leave `host` out to use a host "
                "that has it.",
            ) from exc

    # -- routing ----------------------------------------------------------------------------

    async def route(self, model: str) -> Host:
        """The host a call for `model` would go to now (a benchmark is pinned to it).

        Raises:
            ModelNotFoundError: no host has the model (and auto-pull is off).
            HostsUnreachableError: no host answers.
        """
        if self.single:
            return self.primary
        placed = await self._place(model, canonical_name(model), set())
        assert placed is not None  # nothing was excluded
        return placed[0]

    async def where(self, model: str) -> list[Host]:
        """The hosts that have `model`, as far as their (cached) model lists say."""
        key = canonical_name(model)
        indexes = await self._indexes(self.hosts)
        return [h for h in self.hosts if (ix := indexes.get(h)) is not None and key in ix.installed]

    def available(self) -> list[Host]:
        """The hosts not marked down (those whose interval is over count, without a prober)."""
        return [host for host in self.hosts if self._usable(host)]

    def _usable(self, host: Host) -> bool:
        return not host.down or (not self._probing and host.due())

    async def _place(self, model: str, key: str, tried: set[Host]) -> tuple[Host, bool] | None:
        """Where the call goes next, and whether that host has the model; None when every host
        that has it was tried."""
        pool = [host for host in self.hosts if host not in tried]
        found = self._pick(key, pool, await self._indexes(pool))
        if found is not None or tried:
            return None if found is None else (found, True)
        # Nobody has it as far as the cached lists say: ask every host that answers again.
        await self._refresh([host for host in pool if self._usable(host)])
        found = self._pick(key, pool, await self._indexes(pool))
        if found is not None:
            return found, True
        answering = [host for host in self.available() if host.known_index() is not None]
        if not answering:
            raise HostsUnreachableError(
                [
                    (host.name, host.last_failure or f"{host.config.base_url} did not answer")
                    for host in self.hosts
                ]
            )
        if self.settings.auto_pull:
            return least_loaded(answering), False
        silent = [host.name for host in self.hosts if host.known_index() is None]
        # A host that never answered may have it: starting it is a next step too.
        start = f", or start Ollama on {', '.join(silent)} (it may have it)" if silent else ""
        raise ModelNotOnHostError(
            model,
            f"model '{model}' is not on any host ({describe_installed(self.hosts)}); call "
            f"pull_model with model='{model}' (host=NAME chooses where), pick one of these"
            f"{start}.",
        )

    def _pick(self, key: str, pool: list[Host], indexes: dict[Host, ModelIndex]) -> Host | None:
        having = [host for host in pool if (ix := indexes.get(host)) and key in ix.installed]
        up = [host for host in having if self._usable(host)]
        if up:
            return choose(up, key)
        # Every host that has it is down: try the one that comes back soonest.
        return min(having, key=lambda host: host.down_until) if having else None

    async def _indexes(self, hosts: Iterable[Host]) -> dict[Host, ModelIndex]:
        """Each host's model index from its cached list; only a host with no usable list is
        asked (all of them at once), and a down host never is."""
        found: dict[Host, ModelIndex] = {}
        missing: list[Host] = []
        for host in hosts:
            listing = host.catalog.known()
            if listing is not None:
                found[host] = host.index(listing)
            elif self._usable(host):
                missing.append(host)
            elif (index := host.known_index()) is not None:
                found[host] = index
        if missing:
            await self._refresh(missing, force=False)
            found.update({h: ix for h in missing if (ix := h.known_index()) is not None})
        return found

    async def _refresh(self, hosts: Sequence[Host], *, force: bool = True) -> None:
        async def fetch(host: Host) -> None:
            try:
                listing = await self.on_host(
                    host,
                    None,
                    lambda: host.resilience.call(
                        lambda: host.catalog.list_models(force_refresh=force)
                    ),
                )
            except OllamaError as exc:
                logger.warning("model list unavailable", host=host.name, error=str(exc))
                return
            host.index(listing)

        async with anyio.create_task_group() as tg:
            for host in hosts:
                tg.start_soon(fetch, host)
