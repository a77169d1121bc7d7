"""The model catalogue: in-memory TTL, the list persisted on disk (fresh, stale, expired,
corrupt), answering from cache while the daemon is down, base and variant names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from mcp_ollama.errors import OllamaConnectionError
from mcp_ollama.fleet.catalog import ModelCatalog, cache_path
from mcp_ollama.ollama.client import OllamaClient
from mcp_ollama.service import OllamaService
from mcp_ollama.settings import Settings
from tests.fake_ollama import FakeOllama, FakeServerHandle

pytestmark = pytest.mark.anyio

HOUR = 3600.0
START = 1_800_000_000.0


class Clock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache_file(settings: Settings) -> Path:
    return cache_path(settings.data_dir, settings.base_url)


@pytest.fixture
async def catalog(ollama: OllamaClient, settings: Settings, clock: Clock) -> ModelCatalog:
    return ModelCatalog.from_settings(ollama, settings, clock=clock)


def tags_requests(fake: FakeOllama) -> int:
    return len(fake.requests_to("/api/tags"))


def persisted(
    settings: Settings, *, fetched_at: float, names: list[str], base_url: str | None = None
) -> None:
    """A cache file as an earlier server run against `settings`' daemon would have left it
    (`base_url` says which daemon the list inside came from)."""
    models = [
        {"name": name, "digest": "0123456789ab", "size_bytes": 1, "size": "1 B"} for name in names
    ]
    data = {"version": 1, "base_url": base_url or settings.base_url, "fetched_at": fetched_at}
    cache_file = cache_path(settings.data_dir, settings.base_url)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps({**data, "models": models}), encoding="utf-8")


async def test_the_list_is_cached_for_the_ttl_and_force_refresh_bypasses_it(
    catalog: ModelCatalog, fake: FakeOllama, clock: Clock
) -> None:
    first = await catalog.list_models()
    await catalog.list_models()
    assert tags_requests(fake) == 1

    await catalog.list_models(force_refresh=True)
    assert tags_requests(fake) == 2

    clock.now += 31
    await catalog.list_models()
    assert tags_requests(fake) == 3
    assert [m.name for m in first.models] == [m.name for m in fake.models]
    assert first.models[0].context_length is not None  # details from /api/show


async def test_a_fetched_list_is_persisted_with_its_timestamp(
    catalog: ModelCatalog, cache_file: Path
) -> None:
    listed = await catalog.list_models()

    data = json.loads(cache_file.read_text(encoding="utf-8"))
    assert data["fetched_at"] == START
    assert [m["name"] for m in data["models"]] == [m.name for m in listed.models]
    assert list(cache_file.parent.glob("*.tmp")) == []


async def test_a_fresh_persisted_list_is_served_at_start_without_asking_the_daemon(
    catalog: ModelCatalog, settings: Settings, fake: FakeOllama
) -> None:
    persisted(settings, fetched_at=START - 5 * HOUR, names=["old:1b"])

    listed = await catalog.list_models()

    assert [m.name for m in listed.models] == ["old:1b"]
    assert listed.stale is False
    assert tags_requests(fake) == 0


async def test_a_stale_persisted_list_is_served_and_refreshed_in_the_background(
    catalog: ModelCatalog, settings: Settings, cache_file: Path, fake: FakeOllama
) -> None:
    persisted(settings, fetched_at=START - 7 * HOUR, names=["old:1b"])
    async with anyio.create_task_group() as tg:
        catalog.attach(tg)

        listed = await catalog.list_models()

        assert [m.name for m in listed.models] == ["old:1b"]
        assert listed.stale is True
        assert listed.stale_reason is not None
        assert "7.0 h old" in listed.stale_reason
        with anyio.fail_after(10):
            while json.loads(cache_file.read_text(encoding="utf-8"))["fetched_at"] != START:
                await anyio.sleep(0.01)

    refreshed = await catalog.list_models()
    assert [m.name for m in refreshed.models] == [m.name for m in fake.models]
    assert refreshed.stale is False
    assert tags_requests(fake) == 1


async def test_an_expired_persisted_list_is_refreshed_before_answering(
    catalog: ModelCatalog, settings: Settings, fake: FakeOllama
) -> None:
    persisted(settings, fetched_at=START - 25 * HOUR, names=["old:1b"])

    listed = await catalog.list_models()

    assert [m.name for m in listed.models] == [m.name for m in fake.models]
    assert listed.stale is False
    assert tags_requests(fake) == 1


async def test_a_corrupt_cache_file_is_discarded_and_rebuilt(
    catalog: ModelCatalog, cache_file: Path, fake: FakeOllama
) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text('{"version": 1, "fetched_at": "soon", "mod', encoding="utf-8")

    listed = await catalog.list_models()

    assert [m.name for m in listed.models] == [m.name for m in fake.models]
    rebuilt = json.loads(cache_file.read_text(encoding="utf-8"))
    assert rebuilt["fetched_at"] == START
    assert len(rebuilt["models"]) == len(fake.models)


async def test_a_pull_or_delete_makes_the_persisted_list_refresh_at_the_next_start(
    catalog: ModelCatalog, ollama: OllamaClient, settings: Settings, clock: Clock, fake: FakeOllama
) -> None:
    await catalog.list_models()
    catalog.invalidate()

    restarted = ModelCatalog.from_settings(ollama, settings, clock=clock)
    await restarted.list_models()

    assert tags_requests(fake) == 2


async def test_a_change_made_right_after_a_restart_still_outdates_the_persisted_list(
    ollama: OllamaClient, settings: Settings, clock: Clock, fake: FakeOllama
) -> None:
    persisted(settings, fetched_at=START - HOUR, names=["gone:latest"])
    restarted = ModelCatalog.from_settings(ollama, settings, clock=clock)
    restarted.invalidate()  # e.g. a pull before anything asked for the list

    names = [m.name for m in (await restarted.list_models()).models]

    assert "gone:latest" not in names
    assert tags_requests(fake) == 1


async def test_a_list_persisted_for_another_daemon_is_never_served(
    catalog: ModelCatalog, settings: Settings, fake: FakeOllama
) -> None:
    persisted(settings, fetched_at=START - HOUR, names=["other:1b"], base_url="http://10.0.0.9:1")

    listed = await catalog.list_models()

    assert [m.name for m in listed.models] == [m.name for m in fake.models]
    assert tags_requests(fake) == 1


async def test_each_daemon_has_its_own_cache_file(tmp_path: Path) -> None:
    first = cache_path(tmp_path, "http://127.0.0.1:11434")
    assert cache_path(tmp_path, "http://127.0.0.1:11434") == first
    assert cache_path(tmp_path, "http://10.0.0.5:11434") != first
    assert first.parent == tmp_path / "cache"


async def test_names_resolve_by_ollamas_latest_rule(catalog: ModelCatalog) -> None:
    found = await catalog.find("llama3.2:1b")
    assert found is not None
    assert found.name == "llama3.2:1b"
    # A bare name means `:latest`, as in Ollama: only llama3.2:1b is installed.
    assert await catalog.find("llama3.2") is None
    embed = await catalog.find("NOMIC-EMBED-TEXT")
    assert embed is not None
    assert embed.name == "nomic-embed-text:latest"
    assert await catalog.find("llama3.2:3b") is None
    assert await catalog.find("llama3") is None


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[OllamaService]:
    async with OllamaClient.from_settings(settings) as client:
        service = OllamaService(settings, client)
        try:
            yield service
        finally:
            await service.aclose()


async def test_list_models_answers_from_cache_marked_stale_while_the_daemon_is_down(
    service: OllamaService, fake_ollama: FakeServerHandle, fake: FakeOllama
) -> None:
    fresh = await service.models.list_models()
    fake_ollama.stop()

    listed = await service.models.list_models(force_refresh=True)

    assert listed.stale is True
    assert [m.name for m in listed.models] == [m.name for m in fresh.models]
    assert listed.stale_reason is not None
    assert "could not be reached" in listed.stale_reason
    assert "connection refused" in listed.stale_reason
    assert listed.cached_at == fresh.cached_at


async def test_with_no_cache_a_down_daemon_is_an_error_that_says_how_to_start_it(
    service: OllamaService, fake_ollama: FakeServerHandle
) -> None:
    fake_ollama.stop()

    with pytest.raises(OllamaConnectionError, match="ollama serve"):
        await service.models.list_models()
