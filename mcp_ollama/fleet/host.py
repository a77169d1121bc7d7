"""`Host`: one daemon of the fleet and every fact kept about it: its client (own connection
pool), model catalogue (own cache file), auto-start and CLI fallback (only when it is on this
machine), the resilience around its calls, and what routing needs: calls in flight, which models
it has and has loaded, and whether it is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mcp_ollama.fleet.catalog import ModelCatalog
from mcp_ollama.hosts import HostConfig
from mcp_ollama.ollama.cli_fallback import OllamaCLI
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.ollama.lifecycle import DaemonManager
from mcp_ollama.ollama.names import canonical_name
from mcp_ollama.ollama.resilience import Resilience
from mcp_ollama.results import ModelList
from mcp_ollama.settings import Settings

__all__ = ["DOWN_FIRST", "DOWN_MAX", "Host", "ModelIndex"]

DOWN_FIRST = 0.5
"""Seconds a host stays down after its first failure; each failure in a row doubles it."""
DOWN_MAX = 30.0

Clock = Callable[[], float]


@dataclass
class ModelIndex:
    """A host's models by canonical name, built once per catalogue answer: routing looks a model
    up in a set instead of scanning the list."""

    source: ModelList
    installed: frozenset[str]
    loaded: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, listing: ModelList) -> ModelIndex:
        """The index of one catalogue answer."""
        names = [canonical_name(m.name) for m in listing.models]
        loaded = {canonical_name(m.name) for m in listing.models if m.loaded}
        return cls(listing, frozenset(names), loaded)


class Host:
    """One daemon and what the server knows about it."""

    def __init__(
        self,
        settings: Settings,
        config: HostConfig,
        *,
        client: OllamaClient | None = None,
        label: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.config = config
        self.name = config.name
        self.weight = config.weight
        self.owns_client = client is None
        self.client = client or OllamaClient.from_settings(settings, host=config)
        self.catalog = ModelCatalog.from_settings(self.client, settings)
        self.daemon = DaemonManager(settings, self.client, host=config, label=label)
        self.cli = OllamaCLI(settings, host=config)
        self.resilience = Resilience(settings, self.daemon)
        self._clock = clock
        self.in_flight = 0
        self.current = 0.0  # smooth weighted round robin among equally good hosts
        self.failures = 0  # in a row
        self.down_until = 0.0  # on the monotonic clock; 0 while up
        self.last_failure: str | None = None  # what happened when it last could not be reached
        self._index: ModelIndex | None = None

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.config.base_url})"

    # -- what it has ----------------------------------------------------------------------

    def index(self, listing: ModelList) -> ModelIndex:
        """The index of `listing`, rebuilt only when the catalogue answered anew."""
        if self._index is None or self._index.source is not listing:
            self._index = ModelIndex.of(listing)
        return self._index

    def known_index(self) -> ModelIndex | None:
        """The last index built, of any age (for error messages about a host that is down)."""
        return self._index

    def note_loaded(self, key: str) -> None:
        """A call just ran `key` here, so it is in memory now (until the next listing says)."""
        if self._index is not None:
            self._index.loaded.add(key)

    def note_running(self, keys: set[str]) -> None:
        """`/api/ps` just said what is loaded here."""
        if self._index is not None:
            self._index.loaded = set(keys)

    def note_unloaded(self, key: str) -> None:
        """`key` was unloaded here."""
        if self._index is not None:
            self._index.loaded.discard(key)

    # -- whether it answers ---------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Whether the host is marked down (a connection failed or timed out)."""
        return self.down_until > 0

    def due(self, now: float | None = None) -> bool:
        """Whether its down interval is over (time to probe it, or to try it again)."""
        return self.down and (self._clock() if now is None else now) >= self.down_until

    def mark_down(self) -> bool:
        """After a connection failure or timeout: down for an interval that doubles with each
        failure in a row. Returns False when it was already down (concurrent calls failing
        together count once)."""
        if self.down and not self.due():
            return False
        self.failures += 1
        interval = min(DOWN_FIRST * 2 ** (self.failures - 1), DOWN_MAX)
        self.down_until = self._clock() + interval
        return True

    def mark_up(self) -> None:
        """It answered: back in the rotation."""
        self.failures = 0
        self.down_until = 0.0
